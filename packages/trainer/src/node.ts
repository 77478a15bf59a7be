// Node-only part of @moge/trainer: corpus files, checkpoints, metrics files, the live view and the
// training loop (worker threads).
export { loadSotuCorpus, loadDocuments, type Document } from './data/corpus';
export {
  saveCheckpoint,
  loadCheckpoint,
  resolveCheckpointDir,
  flatParamsOf,
  TrainerStateSchema,
  LATEST_FILE,
  TRAINER_STATE_FILE,
  OPTIMIZER_FILE,
  type TrainerState,
  type CheckpointContents,
} from './checkpoint/checkpoint';
export { checkManifest, verifyManifest, MANIFEST_FILE } from './checkpoint/manifest';
export { lockRunDir, refuseOtherRun, runDirOf, RUN_LOCK_FILE } from './checkpoint/run-dir';
export { readTokenizerFile } from './tokenizer/tokenizer-file';
export { JsonlLog, readStepLog } from './metrics/jsonl-log';
export { startLiveView, startLineLog, formatImbalance, formatExpertLoad, type LiveView, type LiveMode } from './metrics/live-view';
export { trainModel, prepareRun, resolveArch as resolveTrainArch, type TrainRunOptions, type TrainRunResult } from './loop/train';
export { compareRouters, type CompareResult, type CompareRow } from './jobs/compare';
export { runMainJob, mainJobConfig, type MainJobOptions, type MainJobResult } from './jobs/main-job';
