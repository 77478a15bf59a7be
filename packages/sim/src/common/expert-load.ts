import type { FieldIssue, MoeArch, RoutingStats } from '@moge/core';
import { loadMatrixFromRows, meanMaxOverMean, placeExperts, zipfLoads, type LoadMatrix } from '@moge/ep-planner';

/** Where expert loads come from and whether ep-planner may re-place experts to even them out. */
export type ExpertLoadSource =
  | { kind: 'router'; rebalance: boolean; zipfExponent: number }
  | { kind: 'trace'; stats: RoutingStats; rebalance: boolean }
  | { kind: 'factor'; value: number }
  | { kind: 'balanced' };

export interface ExpertLoadQuery {
  arch: MoeArch;
  /** Expert-parallel ranks a layer's experts are spread over. */
  ep: number;
  /** Nodes those ranks span. */
  epNodes: number;
  /** Token→expert assignments one EP group routes per micro-batch (tokens × topK over the group). */
  assignmentsPerMicroBatch: number;
}

/**
 * What makes measured routing statistics unusable for `arch`, with paths under `path` (the option or
 * workload field that holds them): a trace of another model (a different expert count) would be
 * placed as if it were this one's, and an empty one has no load at all. Checked at the public doors,
 * so the error names the user's field rather than ep-planner's internals.
 */
export function routingTraceIssues(arch: MoeArch, stats: RoutingStats, path: string): FieldIssue[] {
  if (stats.layers.length === 0) return [{ path: `${path}.layers`, received: [], expected: 'at least one layer of expert counts' }];
  const issues: FieldIssue[] = [];
  stats.layers.forEach((l, i) => {
    if (l.expertCounts.length !== arch.numExperts) {
      issues.push({ path: `${path}.layers.${i}.expertCounts`, received: `${l.expertCounts.length} counts`, expected: `one count per expert of the architecture, ${arch.numExperts} (a trace of this model)` });
    }
  });
  return issues;
}

/** Layers of synthetic Zipf loads to average over (each layer has its own hot experts). */
const SYNTHETIC_LAYERS = 8;

function routerLoads(arch: MoeArch, zipfExponent: number): LoadMatrix {
  const loads = zipfLoads({ numLayers: SYNTHETIC_LAYERS, numExperts: arch.numExperts, exponent: zipfExponent, assignmentsPerLayer: 1, seed: 1 });
  if (arch.router !== 'moge' || arch.numExpertGroups === 1) return loads;
  // MoGE: every token picks K/M experts in every group, so each group carries exactly 1/M of the load;
  // popularity is skewed only inside a group.
  const size = arch.numExperts / arch.numExpertGroups;
  const rows = loads.layers.map((row) => {
    const out = new Float64Array(row.length);
    for (let g = 0; g < arch.numExpertGroups; g++) {
      let sum = 0;
      for (let e = g * size; e < (g + 1) * size; e++) sum += row[e]!;
      for (let e = g * size; e < (g + 1) * size; e++) out[e] = row[e]! / sum / arch.numExpertGroups;
    }
    return out;
  });
  return loadMatrixFromRows(rows);
}

/** True when each rank holds whole MoGE groups: device loads are then equal for every single token. */
function mogeExact(arch: MoeArch, ep: number): boolean {
  return arch.router === 'moge' && arch.numExpertGroups % ep === 0;
}

/**
 * The busiest expert-parallel rank's routed-token load over the mean, for one micro-batch: expected
 * loads from the router (or a trace) placed on the ranks by ep-planner (the natural contiguous mapping,
 * or its rebalancing placement), plus the sampling spread of a finite batch (a Poisson count's
 * expected maximum over the ranks, ≈ μ + √(2 μ ln D)), which vanishes only when MoGE fixes every
 * token's per-device count.
 */
export function expertLoadFactor(q: ExpertLoadQuery, source: ExpertLoadSource): number {
  if (source.kind !== 'router') return computeLoadFactor(q, source);
  // Router-derived factors depend on a handful of numbers; a search asks for the same ones many times.
  const a = q.arch;
  const key = `${a.router}:${a.numExperts}:${a.numExpertGroups}:${a.topK}:${q.ep}:${q.epNodes}:${q.assignmentsPerMicroBatch}:${source.rebalance}:${source.zipfExponent}`;
  let f = routerFactorCache.get(key);
  if (f === undefined) {
    f = computeLoadFactor(q, source);
    if (routerFactorCache.size > 10_000) routerFactorCache.clear();
    routerFactorCache.set(key, f);
  }
  return f;
}

const routerFactorCache = new Map<string, number>();

function computeLoadFactor(q: ExpertLoadQuery, source: ExpertLoadSource): number {
  if (source.kind === 'balanced') return 1;
  if (source.kind === 'factor') return source.value;
  const { arch, ep } = q;
  if (ep <= 1 || arch.numExperts === 0) return 1;
  if (mogeExact(arch, ep) && source.kind === 'router') return 1;
  const loads =
    source.kind === 'trace'
      ? loadMatrixFromRows(source.stats.layers.map((l) => l.expertCounts))
      : routerLoads(arch, source.zipfExponent);
  const nodes = Math.max(1, Math.min(q.epNodes, ep));
  const placement = source.rebalance
    ? placeExperts(loads, { policy: 'eplb-global', numRanks: ep, numNodes: ep % nodes === 0 ? nodes : 1 })
    : placeExperts(loads, { policy: 'moge', numRanks: ep, numGroups: ep });
  const expected = meanMaxOverMean(placement);
  const mean = q.assignmentsPerMicroBatch / ep;
  if (!(mean > 0)) return expected;
  const busiest = expected * mean;
  return (busiest + Math.sqrt(2 * busiest * Math.log(ep))) / mean;
}
