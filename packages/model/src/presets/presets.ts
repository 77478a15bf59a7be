import { closestName, MoeArchSchema, ValidationError, type MoeArch, type MoeArchInput } from '@moge/core';

/**
 * Named architectures. The published models carry their paper's numbers; the two small ones are
 * ours, sized for tests (`moge-tiny`) and for the 2-core training job (`moge-small`).
 */
const PRESET_INPUTS = {
  /** Pangu Pro MoE 72B-A16B (arXiv 2505.21411, Table 1). */
  'pangu-pro-moe': {
    name: 'pangu-pro-moe',
    numLayers: 48,
    hiddenSize: 5120,
    numHeads: 40,
    numKvHeads: 8,
    headDim: 128,
    vocabSize: 153376,
    denseFfnSize: 0,
    numExperts: 64,
    numExpertGroups: 8,
    topK: 8,
    expertFfnSize: 1344,
    sharedExpertFfnSize: 5376,
    router: 'moge',
    attentionBias: true,
    ropeTheta: 1.6e7,
    normEps: 1e-5,
    tiedEmbeddings: false,
    // The paper trains at 4K sequence length; a longer serving window is a deployment choice.
    maxPositionEmbeddings: 4096,
  },
  /**
   * Pangu Ultra MoE 718B (arXiv 2505.04519): architecture only. The router is plain top-k; the 8
   * groups are there so MoGE-style per-group accounting (one group per EP rank) can be asked for.
   * RoPE θ is not given in the paper; the schema default stands.
   */
  'pangu-ultra-moe': {
    name: 'pangu-ultra-moe',
    numLayers: 61,
    numDenseLayers: 3,
    hiddenSize: 7680,
    numHeads: 128,
    numKvHeads: 128,
    headDim: 192, // qkNopeHeadDim + qkRopeHeadDim
    vocabSize: 153600,
    denseFfnSize: 18432,
    numExperts: 256,
    numExpertGroups: 8,
    topK: 8,
    expertFfnSize: 2048,
    sharedExpertFfnSize: 2048,
    router: 'topk',
    attention: 'mla',
    mla: { qLoraRank: 1536, kvLoraRank: 512, qkRopeHeadDim: 64, qkNopeHeadDim: 128, vHeadDim: 128 },
    mtpDepth: 1,
    tiedEmbeddings: false,
  },
  /** Dense 32B baseline (Qwen2.5-32B shape). */
  'dense-32b': {
    name: 'dense-32b',
    numLayers: 64,
    hiddenSize: 5120,
    numHeads: 40,
    numKvHeads: 8,
    headDim: 128,
    vocabSize: 152064,
    denseFfnSize: 27648,
    ropeTheta: 1e6,
    tiedEmbeddings: false,
  },
  /** Dense 72B baseline (Qwen2.5-72B shape). */
  'dense-72b': {
    name: 'dense-72b',
    numLayers: 80,
    hiddenSize: 8192,
    numHeads: 64,
    numKvHeads: 8,
    headDim: 128,
    vocabSize: 152064,
    denseFfnSize: 29568,
    ropeTheta: 1e6,
    tiedEmbeddings: false,
  },
  /** Two layers, 8 experts in 4 groups: a full forward + backward takes milliseconds. */
  'moge-tiny': {
    name: 'moge-tiny',
    numLayers: 2,
    hiddenSize: 64,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 16,
    vocabSize: 256,
    denseFfnSize: 0,
    numExperts: 8,
    numExpertGroups: 4,
    topK: 4,
    expertFfnSize: 32,
    sharedExpertFfnSize: 64,
    router: 'moge',
    attentionBias: true,
    maxPositionEmbeddings: 256,
  },
  /**
   * The main job's default: ≈ 24.5 M parameters (≈ 10.4 M active, 2.1 M of them the output head), 16 experts in 4 groups, top-4 (one per
   * group), the Pangu Pro layout scaled down. Vocabulary 4096 = the trained BPE tokenizer's size: a
   * larger vocabulary would spend most of a small model's FLOPs in the output head.
   */
  'moge-small': {
    name: 'moge-small',
    numLayers: 6,
    hiddenSize: 256,
    numHeads: 4,
    numKvHeads: 2,
    headDim: 64,
    vocabSize: 4096,
    denseFfnSize: 0,
    numExperts: 16,
    numExpertGroups: 4,
    topK: 4,
    expertFfnSize: 256,
    sharedExpertFfnSize: 512,
    router: 'moge',
    attentionBias: true,
    ropeTheta: 10000,
    maxPositionEmbeddings: 1024,
  },
} satisfies Record<string, MoeArchInput>;

export type PresetName = keyof typeof PRESET_INPUTS;

const PRESETS: Record<string, MoeArch> = Object.fromEntries(
  Object.entries(PRESET_INPUTS).map(([name, input]) => [name, MoeArchSchema.parse(input)]),
);

/** Names of every preset, in declaration order. */
export function listPresets(): PresetName[] {
  return Object.keys(PRESET_INPUTS) as PresetName[];
}

export function isPresetName(name: string): name is PresetName {
  return Object.hasOwn(PRESETS, name);
}

/** The preset's MoeArch (a fresh copy each call, so callers may modify it). */
/**
 * `; did you mean "<preset>"?` when `name` is a typo of a preset (`moge-smal`), else nothing: a list of six
 * names leaves the reader to spot the one meant.
 */
export function presetSuggestion(name: string): string {
  const meant = closestName(name, listPresets());
  return meant === undefined ? '' : `; did you mean "${meant}"?`;
}

export function getPreset(name: string): MoeArch {
  const arch = PRESETS[name];
  if (!arch) {
    throw new ValidationError('preset', [{ path: 'name', received: name, expected: `one of ${listPresets().join(', ')}${presetSuggestion(name)}` }]);
  }
  return structuredClone(arch);
}
