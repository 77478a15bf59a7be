import { parseWith, RoutingStatsSchema, type RoutingStats } from '@moge/core';
import { z } from 'zod';
import { balanceMetrics, countExperts } from './balance';

const positiveInt = z.number().int().positive();

/**
 * Checked when the accumulator is built, not when `toStats` runs after every batch was added: a
 * bad `topK` or `router` used to surface only then, as a bare ZodError, and a fractional
 * `numLayers` as "Invalid array length".
 */
const StatsAccumulatorOptionsSchema = z
  .object({
    router: RoutingStatsSchema.shape.router,
    numExperts: positiveInt,
    topK: positiveInt,
    numDevices: positiveInt,
    numLayers: z.number().int().nonnegative(),
  })
  .superRefine((o, ctx) => {
    if (o.numExperts % o.numDevices !== 0) {
      ctx.addIssue({ code: 'custom', path: ['numDevices'], input: o.numDevices, message: `a divisor of numExperts (${o.numExperts})` });
    }
    if (o.topK > o.numExperts) {
      ctx.addIssue({ code: 'custom', path: ['topK'], input: o.topK, message: `at most numExperts (${o.numExperts}): a token picks distinct experts` });
    }
  });
export type StatsAccumulatorOptions = z.input<typeof StatsAccumulatorOptionsSchema>;

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

  private readonly options: StatsAccumulatorOptions;

  constructor(options: StatsAccumulatorOptions) {
    this.options = parseWith(StatsAccumulatorOptionsSchema, options, 'routing stats accumulator options');
    this.layers = Array.from({ length: this.options.numLayers }, () => ({
      counts: new Float64Array(this.options.numExperts),
      batches: 0,
      imbalance: 0,
      maxOverMean: 0,
      cv: 0,
    }));
    this.tokensPerLayer = new Array<number>(this.options.numLayers).fill(0);
  }

  /** Adds one batch of `tokens` tokens routed by `layer`; ids are row-major [T·K]. */
  add(layer: number, expertIds: ArrayLike<number>, tokens: number): void {
    const sums = this.layers[layer];
    if (!sums) throw new RangeError(`layer: got ${layer}, expected an integer in [0, ${this.layers.length})`);
    // A fractional count passed the length check (1.5 tokens × K = 2 is 3 ids), divided the IS, and
    // failed only in toStats.
    if (!Number.isInteger(tokens) || tokens < 0) throw new RangeError(`tokens: got ${tokens}, expected a non-negative integer`);
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
