import { z } from 'zod';
import { parseWith } from '@moge/core';
import type { Cluster } from '@moge/ascend-hal';
import { checkLoadMatrix, type LoadMatrix } from '../loads/load-matrix';
import { PlacementOptionsSchema, resolvePlacementShape } from '../placement/options';
import { placeExperts, type Placement } from '../placement/place';
import { maxOverMean, rankLoadsUnder, type LayerPlacement } from '../placement/layer-placement';
import { alignPlacement } from './align';
import { EmaLoadPredictor } from './ema';
import { refinePlacement } from './refine';
import { migrationBetween, mergeMigrations, type LayerMigration } from './migration';
import { estimateMigrationTime } from './migration-cost';

const nonNegative = z.number().finite().nonnegative();

export const RebalanceOptionsSchema = z.object({
  placement: PlacementOptionsSchema,
  /** Weight of the newest step in the moving average of loads. */
  emaAlpha: z.number().gt(0).max(1).default(0.2),
  /**
   * A layer is re-placed only when the candidate lowers its predicted max/mean by at least this
   * fraction: moving weights costs time, so small gains are not worth a migration.
   */
  minImprovement: nonNegative.default(0.05),
  /** Consider rebalancing after every `interval` steps. */
  interval: z.number().int().positive().default(1),
  /**
   * Relabel the ranks of each new layer placement to keep experts where they are (see
   * alignPlacement): same loads per rank, fewer bytes moved. Off reproduces plain re-placement.
   */
  alignRanks: z.boolean().default(true),
  /**
   * Bound on the expert copies moved per layer and rebalance. Set: each layer is improved from its
   * current placement by local moves (refinePlacement), trading balance for migration bytes. Unset:
   * each layer is placed from scratch by the policy. The `moge` policy is never refined (moves
   * would break its group-per-device layout).
   */
  maxMovesPerLayer: z.number().int().positive().optional(),
  /** Bytes one expert copy carries when it moves (see expertStateBytes). */
  expertBytes: z.object({ weightBytes: nonNegative, optimizerBytes: nonNegative }),
});
export type RebalanceOptions = z.output<typeof RebalanceOptionsSchema>;
export type RebalanceOptionsInput = z.input<typeof RebalanceOptionsSchema>;

export interface RebalanceStepReport {
  step: number;
  /** Mean over layers of max/mean rank load this step saw, under the placement in use. */
  maxOverMean: number;
  /** The same under the initial placement, never rebalanced: the baseline. */
  staticMaxOverMean: number;
  /** Layers re-placed after this step (in use from the next step). */
  rebalancedLayers: number[];
  migrationBytes: number;
  /** Time of this step's migration on the cluster's links; null when no cluster was given. */
  migrationTimeS: number | null;
}

export interface RebalanceReport {
  steps: RebalanceStepReport[];
  meanMaxOverMean: number;
  meanStaticMaxOverMean: number;
  /** Steps after which at least one layer moved. */
  rebalances: number;
  layerMigrations: number;
  totalMigrationBytes: number;
  totalMigrationTimeS: number | null;
  /** The placement in use at the end of the trace. */
  finalPlacement: Placement;
}

function uniformLoads(numLayers: number, numExperts: number): LoadMatrix {
  return { numLayers, numExperts, layers: Array.from({ length: numLayers }, () => new Float64Array(numExperts).fill(1)) };
}

function meanRealised(layers: LayerPlacement[], numRanks: number, loads: LoadMatrix): number {
  let sum = 0;
  layers.forEach((layer, l) => (sum += maxOverMean(rankLoadsUnder(layer, numRanks, loads.layers[l]!))));
  return sum / layers.length;
}

/**
 * Replays a trace of per-step expert loads with online rebalancing: the placement starts from
 * uniform loads (nothing is known yet); after each step the EMA prediction is updated and, every
 * `interval` steps, each layer whose predicted max/mean the policy would improve by at least
 * `minImprovement` is re-placed, paying the migration of the expert copies that change ranks
 * (after relabelling the new placement's ranks to keep experts in place, unless `alignRanks` is off).
 * Deterministic: the same trace and options give the same report.
 */
export function simulateRebalancing(trace: readonly LoadMatrix[], optionsInput: RebalanceOptionsInput, cluster?: Cluster): RebalanceReport {
  const options = parseWith(RebalanceOptionsSchema, optionsInput, 'rebalance options');
  if (trace.length === 0) throw new RangeError('simulateRebalancing: the trace has no steps');
  // Every step before any work: a NaN load used to read as max/mean 1 for its step, and a short or
  // long row was placed as if it had numExperts entries. The error names the step and row.
  trace.forEach((step, s) => checkLoadMatrix(step, 'rebalancing trace', `trace[${s}]`));
  const { numLayers, numExperts } = trace[0]!;
  const shape = resolvePlacementShape(options.placement, numExperts);
  const initial = placeExperts(uniformLoads(numLayers, numExperts), options.placement);
  const current = initial.layers.slice();
  const predictor = new EmaLoadPredictor(options.emaAlpha);
  const steps: RebalanceStepReport[] = [];
  let totalBytes = 0;
  let totalTime = 0;
  for (let s = 0; s < trace.length; s++) {
    const observed = trace[s]!;
    if (observed.numLayers !== numLayers || observed.numExperts !== numExperts) {
      throw new RangeError(`simulateRebalancing: step ${s} has ${observed.numLayers}×${observed.numExperts} loads, step 0 has ${numLayers}×${numExperts}`);
    }
    const report: RebalanceStepReport = {
      step: s,
      maxOverMean: meanRealised(current, shape.numRanks, observed),
      staticMaxOverMean: meanRealised(initial.layers, shape.numRanks, observed),
      rebalancedLayers: [],
      migrationBytes: 0,
      migrationTimeS: cluster ? 0 : null,
    };
    predictor.observe(observed);
    if ((s + 1) % options.interval === 0) {
      const predicted = predictor.predict()!;
      const refine = options.maxMovesPerLayer !== undefined && shape.policy !== 'moge';
      const candidate = refine ? null : placeExperts(predicted, options.placement);
      const moves: LayerMigration[] = [];
      for (let l = 0; l < numLayers; l++) {
        const now = maxOverMean(rankLoadsUnder(current[l]!, shape.numRanks, predicted.layers[l]!));
        const proposed = candidate
          ? candidate.layers[l]!
          : refinePlacement(current[l]!, predicted.layers[l]!, shape, { maxMoves: options.maxMovesPerLayer!, withinNode: shape.policy === 'eplb-hierarchical' }).placement;
        const next = proposed.maxOverMean;
        if (now - next < options.minImprovement * now) continue;
        const placed = candidate && options.alignRanks ? alignPlacement(current[l]!, proposed, shape, predicted.layers[l]!) : proposed;
        moves.push(migrationBetween(current[l]!, placed, shape, options.expertBytes));
        current[l] = placed;
        report.rebalancedLayers.push(l);
      }
      if (moves.length > 0) {
        const merged = mergeMigrations(moves, shape.numRanks);
        report.migrationBytes = merged.bytes;
        if (cluster) report.migrationTimeS = estimateMigrationTime(cluster, merged, shape);
      }
    }
    totalBytes += report.migrationBytes;
    totalTime += report.migrationTimeS ?? 0;
    steps.push(report);
  }
  const mean = (pick: (r: RebalanceStepReport) => number) => steps.reduce((a, r) => a + pick(r), 0) / steps.length;
  return {
    steps,
    meanMaxOverMean: mean((r) => r.maxOverMean),
    meanStaticMaxOverMean: mean((r) => r.staticMaxOverMean),
    rebalances: steps.filter((r) => r.rebalancedLayers.length > 0).length,
    layerMigrations: steps.reduce((a, r) => a + r.rebalancedLayers.length, 0),
    totalMigrationBytes: totalBytes,
    totalMigrationTimeS: cluster ? totalTime : null,
    finalPlacement: { ...shape, layers: current },
  };
}
