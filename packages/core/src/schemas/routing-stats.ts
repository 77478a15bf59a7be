import { z } from 'zod';

const layerStats = z.object({
  /** Token→expert assignments per expert over the observed tokens. */
  expertCounts: z.array(z.number().nonnegative()),
  /** Imbalance Score over devices: (max − min device load) / tokens. */
  imbalanceScore: z.number().nonnegative().optional(),
  /** Busiest device's load over the mean device load (`maxOverMean`): 1 is perfect balance, an idle layer included. */
  maxOverMean: z.number().nonnegative().optional(),
  /** Coefficient of variation of device loads. */
  cv: z.number().nonnegative().optional(),
});

/** What a router did over a number of tokens: per-layer expert loads and balance metrics. */
export const RoutingStatsSchema = z.object({
  router: z.enum(['moge', 'topk', 'group-limited']),
  numExperts: z.number().int().positive(),
  topK: z.number().int().positive(),
  numDevices: z.number().int().positive(),
  /** Tokens observed (per layer). */
  tokens: z.number().int().nonnegative(),
  layers: z.array(layerStats),
});
export type RoutingStats = z.infer<typeof RoutingStatsSchema>;
export type LayerRoutingStats = z.infer<typeof layerStats>;
