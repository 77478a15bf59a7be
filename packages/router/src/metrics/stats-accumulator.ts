import { RoutingStatsSchema, type RoutingStats } from '@moge/core';
import { balanceMetrics, countExperts } from './balance';

export interface StatsAccumulatorOptions {
  router: RoutingStats['router'];
  numExperts: number;
  topK: number;
  numDevices: number;
  numLayers: number;
}

interface LayerSums {
  counts: Float64Array;
  batches: number;
  imbalance: number;
  maxOverMean: number;
  cv: number;
}

/**
 * Collects routing over training or serving steps into `RoutingStats`.
 *
 * Expert counts are summed over every batch. The balance metrics are per-batch quantities averaged
 * over the batches seen: a straggler costs time in the step where it happens, and loads summed over
 * many steps average out, hiding exactly the imbalance the Imbalance Score is meant to show.
 * All layers must see the same number of tokens (the schema has one `tokens` per layer).
 */
export class RoutingStatsAccumulator {
  private readonly layers: LayerSums[];
  private readonly tokensPerLayer: number[];

  constructor(private readonly options: StatsAccumulatorOptions) {
    if (options.numExperts % options.numDevices !== 0) {
      throw new RangeError(`numDevices: got ${options.numDevices}, expected a divisor of numExperts (${options.numExperts})`);
    }
    this.layers = Array.from({ length: options.numLayers }, () => ({
      counts: new Float64Array(options.numExperts),
      batches: 0,
      imbalance: 0,
      maxOverMean: 0,
      cv: 0,
    }));
    this.tokensPerLayer = new Array<number>(options.numLayers).fill(0);
  }

  /** Adds one batch of `tokens` tokens routed by `layer`; ids are row-major [T·K]. */
  add(layer: number, expertIds: ArrayLike<number>, tokens: number): void {
    const sums = this.layers[layer];
    if (!sums) throw new RangeError(`layer: got ${layer}, expected an integer in [0, ${this.layers.length})`);
    if (expertIds.length !== tokens * this.options.topK) {
      throw new RangeError(`expert ids: got ${expertIds.length}, expected tokens·topK = ${tokens * this.options.topK}`);
    }
    if (tokens === 0) return;
    const counts = countExperts(expertIds, this.options.numExperts);
    const m = balanceMetrics(counts, this.options.numDevices, tokens);
    for (let i = 0; i < counts.length; i++) sums.counts[i]! += counts[i]!;
    sums.batches += 1;
    sums.imbalance += m.imbalanceScore;
    sums.maxOverMean += m.maxOverMean;
    sums.cv += m.cv;
    this.tokensPerLayer[layer]! += tokens;
  }

  /** The statistics so far, validated against the core schema. */
  toStats(): RoutingStats {
    const tokens = this.tokensPerLayer[0] ?? 0;
    const uneven = this.tokensPerLayer.findIndex((t) => t !== tokens);
    if (uneven >= 0) {
      throw new RangeError(`layer ${uneven} saw ${this.tokensPerLayer[uneven]} tokens, layer 0 saw ${tokens}: expected every layer to see the same tokens`);
    }
    const stats: RoutingStats = {
      router: this.options.router,
      numExperts: this.options.numExperts,
      topK: this.options.topK,
      numDevices: this.options.numDevices,
      tokens,
      layers: this.layers.map((l) => ({
        expertCounts: Array.from(l.counts),
        ...(l.batches > 0
          ? { imbalanceScore: l.imbalance / l.batches, maxOverMean: l.maxOverMean / l.batches, cv: l.cv / l.batches }
          : {}),
      })),
    };
    return RoutingStatsSchema.parse(stats);
  }
}
