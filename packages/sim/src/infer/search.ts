import { z } from 'zod';
import { countParameters, dtypeBytes, MogeError, MoeArchSchema, parseWith, quantizationWeightDType, type MoeArch } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import { maxBatchUnderTpot } from './max-batch';
import { getInferenceProfile, InferenceProfileSchema, type InferenceProfile } from './profile';
import { explainEmptyLayoutSpace, type EmptyLayoutSpaceExplanation } from './empty-layout-space';
import { enumerateInferenceLayouts, type InferenceLayoutCandidate } from './search-space';
import type { InferenceSimResult } from './simulate';
import { InferenceWorkloadSchema, type InferenceWorkloadInput } from './workload';

/** The scalar settings of searchInference, checked at its door (see searchInference). */
const InferenceSearchSettingsSchema = z.object({
  tpotCapS: z.number().positive(),
  top: z.number().int().positive().default(10),
});

export interface InferenceSearchInput {
  archs: MoeArch[];
  cluster: Cluster;
  /** TPOT cap in seconds (Pangu Pro: 0.1 on 300I Duo, 0.05 on 800I A2). */
  tpotCapS: number;
  /** Prompt length, quantisation, speculation, routing (phase and batch are the search's). */
  workload: Omit<InferenceWorkloadInput, 'phase' | 'batch' | 'layout'>;
  /** The candidate scores are normalised to (default: the first architecture). */
  baseline?: MoeArch;
  profile?: string | InferenceProfile;
  top?: number;
  onProgress?: (done: number, total: number) => void;
}

export interface InferenceSearchEntry {
  arch: MoeArch;
  totalParams: number;
  activeParams: number;
  layout: InferenceLayoutCandidate;
  batch: number;
  limitedBy: 'tpot' | 'kv-cache';
  result: InferenceSimResult;
  /** Output tokens/s per card at the largest batch under the cap. */
  throughputPerCard: number;
  /** throughputPerCard over the baseline architecture's best. */
  relative: number;
}

export interface InferenceSearchResult {
  tpotCapS: number;
  counts: { architectures: number; passedFilter: number; layoutsSimulated: number; meetingCap: number };
  /** Why architectures were dropped by the single-server filter. */
  filtered: { arch: string; reason: string }[];
  baseline: { arch: string; throughputPerCard: number } | null;
  top: InferenceSearchEntry[];
  /** Best layout per architecture that no other beats on both throughput per card and total parameters. */
  pareto: InferenceSearchEntry[];
  /** Only when no architecture had a layout to simulate on this server: why, and the device counts that have one. */
  emptyLayoutSpace?: EmptyLayoutSpaceExplanation;
}

/**
 * Stage 1 of the Pangu Pro procedure: a single server's limits, without simulation. The quantised
 * weights must fit in the server's memory with room left for KV, and batch-1 decode cannot beat
 * reading the active weights once at the server's aggregate memory bandwidth.
 */
export function serverFilter(arch: MoeArch, cluster: Cluster, tpotCapS: number, quantization: InferenceWorkloadInput['quantization']): string | null {
  const params = countParameters(arch);
  const wBytes = dtypeBytes(quantizationWeightDType(quantization ?? 'bf16'));
  const chip = cluster.node.chip;
  const memory = cluster.numDevices * chip.hbmBytes.value * 0.9;
  if (params.total * wBytes >= memory) return `weights ${(params.total * wBytes / 1e9).toFixed(1)} GB do not fit in ${(memory / 1e9).toFixed(1)} GB`;
  const floorS = (params.active * wBytes) / (cluster.numDevices * chip.hbmBandwidth.value);
  if (floorS > tpotCapS) return `batch-1 TPOT ≥ ${(floorS * 1e3).toFixed(1)} ms from weight bandwidth alone, over the cap`;
  return null;
}

/**
 * The Pangu Pro architecture/layout search: filter by single-server limits, then for each surviving
 * architecture and layout find the largest decode batch under the TPOT cap and score output tokens/s
 * per card there; report the best, normalised to a baseline, and the throughput–size Pareto front.
 */
export function searchInference(input: InferenceSearchInput): InferenceSearchResult {
  // Checked here: below, every layout's errors are swallowed as "does not fit", so a bad workload
  // field used to come back as "no layout meets the cap", and a NaN cap as batch 1 meeting it.
  const { tpotCapS, top } = parseWith(InferenceSearchSettingsSchema, { tpotCapS: input.tpotCapS, top: input.top }, 'inference search');
  parseWith(InferenceWorkloadSchema, { ...input.workload, phase: 'decode', batch: 1 }, 'inference search workload');
  // An invalid architecture failed every layout (read as "no layout meets the cap"), and one from
  // JSON without its defaults passed the server filter on NaN parameter counts. The baseline keeps
  // its identity with the architecture it is (compared below).
  const parsed = new Map<MoeArch, MoeArch>();
  const parseArch = (a: MoeArch, subject: string): MoeArch => {
    if (!parsed.has(a)) parsed.set(a, parseWith(MoeArchSchema, a, `${subject}${a.name ? ` (${a.name})` : ''}`));
    return parsed.get(a)!;
  };
  const archs = input.archs.map((a, i) => parseArch(a, `archs[${i}]`));
  const { cluster } = input;
  // Resolved up front: below, a MogeError means "this layout does not fit the architecture" and is
  // skipped, which would turn an unknown profile name into an empty result.
  const profile = typeof input.profile === 'string' ? getInferenceProfile(input.profile) : input.profile && parseWith(InferenceProfileSchema, input.profile, 'inference profile');
  const filtered: { arch: string; reason: string }[] = [];
  const survivors = archs.filter((a) => {
    const reason = serverFilter(a, cluster, tpotCapS, input.workload.quantization);
    if (reason) filtered.push({ arch: a.name ?? 'custom', reason });
    return reason === null;
  });
  const baselineArch = input.baseline ? parseArch(input.baseline, 'baseline') : archs[0];
  const candidates = [...survivors];
  if (baselineArch && !candidates.includes(baselineArch)) candidates.push(baselineArch);
  const work = candidates.map((arch) => ({ arch, layouts: enumerateInferenceLayouts(arch, cluster) }));
  const total = work.reduce((s, w) => s + w.layouts.length, 0);
  let done = 0;
  let meetingCap = 0;
  const bestPerArch = new Map<MoeArch, Omit<InferenceSearchEntry, 'relative'>>();
  const all: Omit<InferenceSearchEntry, 'relative'>[] = [];
  for (const { arch, layouts } of work) {
    const params = countParameters(arch);
    for (const layout of layouts) {
      let found;
      try {
        found = maxBatchUnderTpot(
          { arch, cluster, plan: layout.plan, workload: { ...input.workload, phase: 'decode', batch: 1, layout: layout.layout }, ...(profile ? { profile } : {}) },
          tpotCapS,
        );
      } catch (e) {
        if (!(e instanceof MogeError)) throw e;
        found = null; // a layout this architecture cannot use (heads, widths)
      }
      done += 1;
      input.onProgress?.(done, total);
      if (!found?.result || found.limitedBy === 'none-fits') continue;
      meetingCap += 1;
      const entry = { arch, totalParams: params.total, activeParams: params.active, layout, batch: found.batch, limitedBy: found.limitedBy as 'tpot' | 'kv-cache', result: found.result, throughputPerCard: found.result.throughputPerCard };
      if (survivors.includes(arch)) all.push(entry);
      const prev = bestPerArch.get(arch);
      if (!prev || entry.throughputPerCard > prev.throughputPerCard) bestPerArch.set(arch, entry);
    }
  }
  const base = baselineArch ? bestPerArch.get(baselineArch) : undefined;
  const norm = base?.throughputPerCard ?? 0;
  const withRel = (e: Omit<InferenceSearchEntry, 'relative'>): InferenceSearchEntry => ({ ...e, relative: norm > 0 ? e.throughputPerCard / norm : 0 });
  all.sort((a, b) => b.throughputPerCard - a.throughputPerCard);
  const best = [...bestPerArch.entries()].filter(([a]) => survivors.includes(a)).map(([, e]) => e);
  const pareto = best
    .filter((e) => !best.some((o) => o !== e && o.throughputPerCard >= e.throughputPerCard && o.totalParams >= e.totalParams && (o.throughputPerCard > e.throughputPerCard || o.totalParams > e.totalParams)))
    .sort((a, b) => b.throughputPerCard - a.throughputPerCard);
  const emptyLayoutSpace = total === 0 && candidates.length > 0 ? explainEmptyLayoutSpace(candidates, cluster, cluster.node.devicesPerNode) : undefined;
  return {
    tpotCapS,
    counts: { architectures: archs.length, passedFilter: survivors.length, layoutsSimulated: done, meetingCap },
    filtered,
    baseline: base ? { arch: base.arch.name ?? 'custom', throughputPerCard: base.throughputPerCard } : null,
    top: all.slice(0, top).map(withRel),
    pareto: pareto.map(withRel),
    ...(emptyLayoutSpace ? { emptyLayoutSpace } : {}),
  };
}

/** The TPOT cap Pangu Pro's search used for a node type: 100 ms on Atlas 300I Duo, 50 ms on 800I A2 (and other nodes). */
export function defaultTpotCapFor(cluster: Cluster): number {
  return cluster.node.name === 'atlas-300i-duo' ? 0.1 : 0.05;
}
