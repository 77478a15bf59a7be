import type { MoeArch, ParallelPlan } from '@moge/core';
import { ParallelPlanSchema } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import type { InferenceLayout } from './workload';

/** One serving layout: the ParallelPlan plus the H2P extras the plan does not state. */
export interface InferenceLayoutCandidate {
  plan: ParallelPlan;
  layout: InferenceLayout;
  label: string;
}

/**
 * The Pangu Pro search space (papers.md): hidden 4096–8192, 32–64 query heads, 8–16 KV heads,
 * 40–64 layers, 32–64 experts, 60–80 B total parameters, around the Pangu Pro MoE shape.
 * In ArchRangesSchema form; the base is resolved by the caller.
 */
export const PANGU_PRO_SEARCH_VARY = {
  hiddenSize: [4096, 5120, 6144, 7168, 8192],
  numHeads: [32, 40, 48, 64],
  numKvHeads: [8, 16],
  numLayers: [40, 48, 56, 64],
  numExperts: [32, 48, 64],
};
export const PANGU_PRO_SEARCH_PARAMS = { min: 60e9, max: 80e9 };

/** What a layout search reads of a cluster: its size and the devices of a node. */
export type InferenceServer = Pick<Cluster, 'numDevices' | 'devicesPerNode'>;

/** The rules a serving layout of enumerateInferenceLayouts meets, in the order it checks them. */
export const INFERENCE_LAYOUT_RULES = {
  'tp-within-node': 'attention TP inside a node (tp ≤ devices per node)',
  'tp-splits-heads': 'attention TP divides the query heads and the vocabulary',
  'ep-fills-devices': 'the routed experts fill the devices: ETP (1 or 2) divides the device count',
  'ep-divides-experts': 'EP = devices / ETP divides the routed experts',
  'etp-divides-expert-ffn': 'ETP divides the expert FFN width',
  'plan-valid': 'a valid ParallelPlan (@moge/core schema)',
} as const;
export type InferenceLayoutRule = keyof typeof INFERENCE_LAYOUT_RULES;

export function attentionTpRule(arch: MoeArch, tp: number, server: InferenceServer): InferenceLayoutRule | undefined {
  if (tp > server.devicesPerNode) return 'tp-within-node';
  if (arch.numHeads % tp !== 0 || arch.vocabSize % tp !== 0) return 'tp-splits-heads';
  return undefined;
}

/** Expert TP 1 or 2 for an MoE, nothing to split for a dense model. */
export function expertTpOptions(arch: MoeArch): number[] {
  return arch.numExperts > 0 ? [1, 2] : [1];
}

/** Routed experts spread over every device: EP × ETP = devices. */
export function expertLayoutRule(arch: MoeArch, devices: number, etp: number): InferenceLayoutRule | undefined {
  if (arch.numExperts === 0) return undefined;
  const ep = devices / etp;
  if (!Number.isInteger(ep)) return 'ep-fills-devices';
  if (arch.numExperts % ep !== 0) return 'ep-divides-experts';
  if (arch.expertFfnSize % etp !== 0) return 'etp-divides-expert-ffn';
  return undefined;
}

export function divisors(n: number): number[] {
  const out: number[] = [];
  for (let d = 1; d <= n; d++) if (n % d === 0) out.push(d);
  return out;
}

/**
 * Layouts of one server for an architecture: attention TP (inside a node) × DP filling the devices;
 * routed experts ETP ∈ {1, 2} × EP filling them too; the shared expert over every device when its
 * width allows (else the attention TP); the split all-reduce whenever TP > 1 and fused collectives
 * on (the H2P recipe); plus plain TP everywhere as the conventional baseline. No pipeline stages:
 * on one server a stage only replaces attention DP ranks (same expert bytes and KV per device, less
 * attention weight) at the cost of sends, ⌈B / pp⌉ micro-batches and smaller EP groups; pp is for
 * weights that need several nodes, outside this single-server search (simulateInference takes it).
 */
export function enumerateInferenceLayouts(arch: MoeArch, cluster: InferenceServer): InferenceLayoutCandidate[] {
  const n = cluster.numDevices;
  const out: InferenceLayoutCandidate[] = [];
  const seen = new Set<string>();
  const moe = arch.numExperts > 0;
  for (const tp of divisors(n)) {
    if (attentionTpRule(arch, tp, cluster)) continue;
    for (const etp of expertTpOptions(arch)) {
      if (expertLayoutRule(arch, n, etp)) continue;
      const ep = moe ? n / etp : 1;
      const sharedTp = arch.sharedExpertFfnSize > 0 && arch.sharedExpertFfnSize % n === 0 ? n : tp;
      const plan = ParallelPlanSchema.safeParse({ tp, dp: n / tp, ep, etp: moe ? etp : 1, sequenceParallel: tp > 1, globalBatchSize: n / tp });
      if (!plan.success) continue;
      const label = `attn DP${n / tp}×TP${tp}, experts ETP${etp}×EP${ep}, shared TP${sharedTp}`;
      if (seen.has(label)) continue;
      seen.add(label);
      out.push({ plan: plan.data, layout: { sharedExpertTp: sharedTp, fuseCollectives: tp > 1 || sharedTp > 1 }, label });
    }
  }
  return out;
}
