// Public API of @moge/trainer that needs no Node APIs: tokenizer, data packing, optimizer,
// schedules, run config, step records and the launch emitters. Files, workers and the training
// loop itself are in `@moge/trainer/node`.
export { ByteLevelBpeTokenizer, END_OF_TEXT, type SpecialToken } from './tokenizer/tokenizer';
export { trainTokenizer, type TrainTokenizerOptions } from './tokenizer/train-tokenizer';
export { trainBpe, countWords, BpeTrainOptionsSchema, type BpeTrainOptions, type BpeVocabulary } from './tokenizer/bpe-trainer';
export { toTokenizerJson, fromTokenizerJson, toTokenizerConfigJson, TokenizerJsonSchema, type TokenizerJson } from './tokenizer/tokenizer-json';
export { pretokenize, GPT2_SPLIT_PATTERN } from './tokenizer/byte-level';
export { buildTokenDataset, pack, type PackedSplit, type TokenDataset, type DatasetOptions } from './data/dataset';
export { DataCursor, DataCursorStateSchema, type DataCursorState } from './data/cursor';
export { AdamW, AdamWConfigSchema, decaysByDefault, type AdamWConfig, type AdamWParam } from './optim/adamw';
export { clipGradNorm, globalGradNorm } from './optim/clip';
export { learningRate, LrScheduleSchema, type LrSchedule, type LrScheduleInput } from './optim/schedule';
export { TrainConfigSchema, warmupSteps, type TrainConfig, type TrainConfigInput } from './config/train-config';
export { StepRecordSchema, type StepRecord } from './metrics/step-record';
export { expertDeviceMap } from './loop/device-map';
export { layerImbalance } from './loop/microbatch';
export { buildLaunchArgs, EngineSchema, EmitOptionsSchema, type Engine, type EmitOptions, type LaunchArgs, type ArgGroup } from './emit/launch-args';
export { renderLaunchScript, flatArgs } from './emit/launch-script';
export { sampleText, pickToken, SampleOptionsSchema, type SampleOptions, type SampleResult } from './sample/sample';
