// Node-only part of @moge/model: checkpoint files.
export { readSafetensorsHeader, readSafetensorsTensors, readSafetensorsFile, writeSafetensorsFile } from './safetensors/file';
export {
  loadModelDir,
  saveModelDir,
  saveHfTensors,
  readModelConfig,
  readModelConfigFile,
  CONFIG_FILE,
  WEIGHTS_FILE,
  WEIGHTS_INDEX_FILE,
  TOKENIZER_FILE,
  type SaveModelOptions,
} from './checkpoint/model-dir';
export { writeFileAtomic, fsyncPath } from './checkpoint/atomic-file';
