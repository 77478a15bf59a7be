import { MAX_MICRO_BATCHES, type MoeArch } from '@moge/core';
import { seqLengthMultiple, tpSplitsFfn, tpSplitsKvHeads } from '@moge/memory';

/**
 * The rules enumeratePlans applies, one check per loop level of its nest. They live here, apart from
 * the generator, so that explainEmptyPlanSpace can say which rule removed a combination with the very
 * checks the search runs (a second copy of the rules would drift from the first).
 */
export type PlanSpaceRule =
  | 'tp-within-node'
  | 'tp-splits-model'
  | 'sequence-splits'
  | 'pp-within-layers'
  | 'devices-fill'
  | 'vpp-needs-pp'
  | 'chunks-within-layers'
  | 'noop-layers'
  | 'batch-divides'
  | 'micro-batches-cover-pp'
  | 'interleaved-micro-batches'
  | 'micro-batches-max'
  | 'ep-divides-experts'
  | 'ep-divides-devices'
  | 'etp-divides-expert-ffn';

/** What each rule requires, in words (for errors and reports); in the order enumeratePlans checks them. */
export const PLAN_SPACE_RULES: Record<PlanSpaceRule, string> = {
  'tp-within-node': 'TP inside a node (tp ≤ devices per node)',
  'tp-splits-model': 'TP divides the attention heads, the KV heads and the FFN widths',
  'sequence-splits': 'the sequence length splits over CP (2·cp chunks) and, with TP, sequence parallelism (cp·tp)',
  'pp-within-layers': 'at most one pipeline stage per layer (pp ≤ layers)',
  'devices-fill': 'the devices are exactly tp·cp·pp·dp (tp·cp·pp divides the device count)',
  'vpp-needs-pp': 'virtual stages (vpp > 1) only with pipeline parallelism (pp > 1)',
  'chunks-within-layers': 'at most one layer per model chunk (pp·vpp ≤ layers)',
  'noop-layers': 'layers padded to pp·vpp chunks with at most maxNoopLayers no-op slots',
  'batch-divides': 'the global batch is a multiple of dp·micro-batch size',
  'micro-batches-cover-pp': 'at least pp micro-batches per step',
  'interleaved-micro-batches': 'with vpp > 1, a micro-batch count that is a multiple of pp',
  'micro-batches-max': `at most ${MAX_MICRO_BATCHES} micro-batches per step`,
  'ep-divides-experts': 'EP divides the experts',
  'ep-divides-devices': 'ep·etp divides the devices of a stage (tp·cp·dp)',
  'etp-divides-expert-ffn': 'ETP divides the expert FFN width',
};

/** The batch and the cluster a plan search fills. */
export interface PlanTemplate {
  globalBatchSize: number;
  seqLength: number;
  /** Devices a plan must fill exactly. */
  devices: number;
  devicesPerNode: number;
}

export function tpRule(arch: MoeArch, tp: number, t: PlanTemplate): PlanSpaceRule | undefined {
  if (tp > t.devicesPerNode) return 'tp-within-node';
  if (arch.numHeads % tp !== 0 || !tpSplitsKvHeads(arch, tp) || !tpSplitsFfn(arch, tp)) return 'tp-splits-model';
  return undefined;
}

/** Plans set sequenceParallel whenever tp > 1, so the sequence must split over cp and tp. */
export function cpRule(tp: number, cp: number, t: PlanTemplate): PlanSpaceRule | undefined {
  return t.seqLength % seqLengthMultiple({ tp, cp, sequenceParallel: tp > 1 }) !== 0 ? 'sequence-splits' : undefined;
}

export function ppRule(arch: MoeArch, tp: number, cp: number, pp: number, t: PlanTemplate): PlanSpaceRule | undefined {
  if (pp > arch.numLayers) return 'pp-within-layers';
  if (t.devices % (tp * cp * pp) !== 0) return 'devices-fill';
  return undefined;
}

/** No-op layer slots that pad the layers to a whole number of pp × vpp chunks. */
export function noopLayersFor(arch: MoeArch, chunks: number): number {
  return (chunks - (arch.numLayers % chunks)) % chunks;
}

export function vppRule(arch: MoeArch, pp: number, vpp: number, maxNoopLayers: number): PlanSpaceRule | undefined {
  if (vpp > 1 && pp === 1) return 'vpp-needs-pp';
  const chunks = pp * vpp;
  if (chunks > arch.numLayers) return 'chunks-within-layers';
  if (noopLayersFor(arch, chunks) > maxNoopLayers) return 'noop-layers';
  return undefined;
}

/** The micro-batch count the interleaved (or plain 1F1B) schedule accepts. */
export function batchRule(pp: number, vpp: number, dp: number, mbs: number, t: PlanTemplate): PlanSpaceRule | undefined {
  if (t.globalBatchSize % (mbs * dp) !== 0) return 'batch-divides';
  const m = t.globalBatchSize / (mbs * dp);
  if (m < pp) return 'micro-batches-cover-pp';
  if (vpp > 1 && m % pp !== 0) return 'interleaved-micro-batches';
  if (m > MAX_MICRO_BATCHES) return 'micro-batches-max';
  return undefined;
}

/** EP and ETP over a stage's devices; `moe` false means the search only offers ep = etp = 1. */
export function expertRule(arch: MoeArch, moe: boolean, stageDevices: number, ep: number, etp: number): PlanSpaceRule | undefined {
  if (moe && arch.numExperts % ep !== 0) return 'ep-divides-experts';
  if (stageDevices % (ep * etp) !== 0) return 'ep-divides-devices';
  if (moe && arch.expertFfnSize % etp !== 0) return 'etp-divides-expert-ffn';
  return undefined;
}
