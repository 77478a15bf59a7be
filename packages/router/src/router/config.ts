import { z } from 'zod';

const positiveInt = z.number().int().positive();

/**
 * What every router is configured with. The fields mean the same for every kind; each kind adds its
 * own checks in `routerConfigSchema(kind)` (MoGE needs K divisible by M, group-limited needs
 * `topGroups`, ...), so one config type serves the whole registry.
 */
export const RouterConfigObject = z.object({
  /** E: routed experts. */
  numExperts: positiveInt,
  /** M: contiguous expert groups; group g holds experts [g·E/M, (g+1)·E/M). 1 = ungrouped. */
  numGroups: positiveInt.default(1),
  /** K: experts chosen per token. */
  topK: positiveInt,
  /** Score function over the logits: softmax over all E experts, or an independent sigmoid per expert. */
  scoring: z.enum(['softmax', 'sigmoid']).default('softmax'),
  /** Divide the K selected scores by their sum before applying router_scale. */
  renormalize: z.boolean().default(false),
  /** Group-limited routing only: groups kept per token (DeepSeek-V3 `topk_group`). */
  topGroups: positiveInt.optional(),
  /**
   * MoGE only: 'fused-host' runs the one-pass host kernel (fastest where tensors are host memory),
   * 'backend' composes backend kernels (softmax, groupTopK, gatherRows, mul) so data stays on the
   * device, 'auto' picks the fused kernel on the CPU backends ('reference', 'onnxruntime').
   */
  kernel: z.enum(['auto', 'backend', 'fused-host']).default('auto'),
});
export type RouterConfig = z.output<typeof RouterConfigObject>;
export type RouterConfigInput = z.input<typeof RouterConfigObject>;

/** Checks every kind shares: groups divide the experts, K fits in E. */
export const RouterConfigSchema = RouterConfigObject.superRefine((c, ctx) => {
  if (c.numExperts % c.numGroups !== 0) {
    ctx.addIssue({ code: 'custom', path: ['numGroups'], input: c.numGroups, message: `a divisor of numExperts (${c.numExperts})` });
  }
  if (c.topK > c.numExperts) {
    ctx.addIssue({ code: 'custom', path: ['topK'], input: c.topK, message: `at most numExperts (${c.numExperts})` });
  }
});

/** Experts per group, E/M. */
export function groupSize(c: RouterConfig): number {
  return c.numExperts / c.numGroups;
}
