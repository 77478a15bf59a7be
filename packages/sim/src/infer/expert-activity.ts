import { ValidationError, type MoeArch } from '@moge/core';
import { zipfLoads } from '@moge/ep-planner';
import { expertLoadFactor, routingTraceIssues, type ExpertLoadSource } from '../common/expert-load';
import type { RoutingSource } from './workload';

/** Layers of synthetic Zipf popularity averaged over (each layer has its own hot experts). */
const SYNTHETIC_LAYERS = 8;

/**
 * Share of all token→expert assignments each expert receives, one row per layer (rows sum to 1).
 * MoGE makes every group carry exactly 1/M of the assignments, so skew only acts inside a group.
 */
export function expertShares(arch: MoeArch, routing: RoutingSource): Float64Array[] {
  const e = arch.numExperts;
  if (routing.kind === 'trace') {
    const issues = routingTraceIssues(arch, routing.stats, 'routing.stats');
    if (issues.length > 0) throw new ValidationError('inference workload', issues);
    return routing.stats.layers.map((l) => {
      const sum = l.expertCounts.reduce((a, b) => a + b, 0);
      return Float64Array.from(l.expertCounts, (c) => (sum > 0 ? c / sum : 1 / e));
    });
  }
  const exponent = routing.kind === 'zipf' ? routing.exponent : 0;
  const groups = arch.router === 'moge' ? arch.numExpertGroups : 1;
  const layers = exponent === 0 ? 1 : SYNTHETIC_LAYERS;
  return zipfLoads({ numLayers: layers, numExperts: e, exponent, assignmentsPerLayer: 1, seed: 1, moGeGroups: groups }).layers.map((r) => Float64Array.from(r));
}

export interface ExpertActivity {
  /** Expected distinct experts the busiest device runs (each one reads its weights once per step). */
  activeExperts: number;
  /** Busiest device's routed-token load over the mean (≥ 1). */
  loadFactor: number;
}

/**
 * How many of a device's `E/ep` experts a step touches. A token picks expert i with probability
 * qᵢ = K·shareᵢ, so over T tokens expert i is untouched with probability (1 − qᵢ)^T; the expected
 * number touched is Σ 1 − (1 − qᵢ)^T over the device's experts (contiguous placement, the busiest
 * device, averaged over layers). Decode at small batch reads only these experts' weights, which is
 * why MoE decode cost grows with batch until every expert is active.
 */
export function expertActivity(arch: MoeArch, routing: RoutingSource, ep: number, epNodes: number, tokens: number): ExpertActivity {
  if (arch.numExperts === 0) return { activeExperts: 0, loadFactor: 1 };
  const shares = expertShares(arch, routing);
  const local = arch.numExperts / ep;
  let activeSum = 0;
  for (const row of shares) {
    let busiest = 0;
    for (let d = 0; d < ep; d++) {
      let active = 0;
      for (let i = d * local; i < (d + 1) * local; i++) {
        const q = Math.min(1, arch.topK * row[i]!);
        active += q >= 1 ? 1 : -Math.expm1(tokens * Math.log1p(-q));
      }
      busiest = Math.max(busiest, active);
    }
    activeSum += busiest;
  }
  const source: ExpertLoadSource =
    routing.kind === 'trace'
      ? { kind: 'trace', stats: routing.stats, rebalance: false }
      : { kind: 'router', rebalance: false, zipfExponent: routing.kind === 'zipf' ? routing.exponent : 0 };
  const loadFactor = expertLoadFactor({ arch, ep, epNodes, assignmentsPerMicroBatch: tokens * arch.topK }, source);
  return { activeExperts: activeSum / shares.length, loadFactor: Math.max(1, loadFactor) };
}
