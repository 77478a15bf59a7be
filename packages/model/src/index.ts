// Public API of @moge/model (pure: no Node APIs; file I/O lives in ./node).
export { getPreset, listPresets, isPresetName, presetSuggestion, type PresetName } from './presets/presets';
export {
  archFromHfConfig,
  hfConfigFromArch,
  splitHfConfig,
  looksLikeHfConfig,
  HfPanguConfigSchema,
  HfExtraConfigSchema,
  HF_ARCH_KEYS,
  HF_MODEL_TYPE,
  HF_ARCHITECTURE,
  type HfPanguConfig,
  type HfExtraConfig,
} from './config/hf-config';
export { readHfArch, type HfArchReading } from './config/families/read-hf-arch';
export { HF_PLANNING_MODEL_TYPES, isHfPlanningModelType, type HfPlanningModelType } from './config/families/model-types';
export {
  flopsPerToken,
  attentionFlopsPerToken,
  modelFlopsUtilization,
  weightBytes,
  kvBytesPerToken,
  type FlopsPerToken,
  type FlopsOptions,
} from './accounting/flops';
// Parameter counting lives in core (memory needs it and may not depend on model); re-exported here.
export { countParameters, layerParams, attentionParams, expertParams, swigluParams, type ParameterCount, type LayerParams } from '@moge/core';
export { paramSpecs, assertSupportedArch, stackedExpertName, EXPERT_PROJECTIONS, type ParamSpec, type ParamInit, type ExpertProjection } from './weights/param-specs';
export { hfTensorShapes, toHfTensors, fromHfTensors, type HostTensor } from './weights/hf-layout';
export {
  createModelWeights,
  initModelWeights,
  weightsToHost,
  tensorsToHost,
  param,
  type ModelWeights,
  type ModelGrads,
} from './weights/model-weights';
export { freezeWeights, hasFrozenWeights, assertTrainable } from './weights/freeze';
export { tokenBatchFromRows, nextTokenLabels, IGNORE_LABEL, type TokenBatch } from './model/batch';
export { modelForward, releaseLogits, type ForwardResult, type ForwardOptions, type LossReport, type ForwardState } from './model/transformer';
export { modelBackward, releaseGrads } from './model/backward';
export { createKvCache, type KvCache } from './model/kv-cache';
export { crossEntropy, type CrossEntropy } from './model/loss';
export { planDispatch, type DispatchPlan } from './layers/dispatch';
export { routerForArch, type LayerRouting, type MoeWeights } from './layers/moe';
export {
  localExperts,
  expertBlockForward,
  expertBlockBackward,
  type ExpertRunner,
  type ExpertCall,
  type ExpertGrads,
  type ExpertActivations,
} from './layers/expert-runner';
export {
  SAFETENSORS_DTYPES,
  SAFETENSORS_DTYPE_BYTES,
  decodeToFloat32,
  encodeFromFloat32,
  type SafetensorsDType,
} from './safetensors/dtype';
export {
  parseHeader as parseSafetensorsHeader,
  readHeaderLength as readSafetensorsHeaderLength,
  buildHeader as buildSafetensorsHeader,
  SafetensorsFormatError,
  MAX_HEADER_BYTES,
  type SafetensorsEntry,
  type SafetensorsHeader,
  type TensorToWrite,
} from './safetensors/format';
