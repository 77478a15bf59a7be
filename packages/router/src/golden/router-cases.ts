import type { Backend } from '@moge/ascend-hal';
import { z } from 'zod';
import { batchAuxLoss } from '../aux/aux-loss';
import { balanceMetrics } from '../metrics/balance';
import { createRouter } from '../router/registry';

/**
 * The router-cases file format shared with the independent PyTorch reference
 * (`shared/golden/router-cases.json`): snake_case fields, nested number arrays. `moge route eval`
 * reads cases in this format and writes the `expected` block of each, computed by the MoGE router.
 */
const finite = z.number().finite();
/** The router computes in float32: a larger magnitude would overflow to Infinity and yield NaN probabilities. */
const FLOAT32_MAX = 3.4028234663852886e38;
const float32 = finite.min(-FLOAT32_MAX, 'a value float32 can hold (|x| ≤ 3.4e38)').max(FLOAT32_MAX, 'a value float32 can hold (|x| ≤ 3.4e38)');
const matrix = z.array(z.array(float32));

export const RouterCaseResultSchema = z.object({
  name: z.string(),
  probs: matrix,
  expert_ids: z.array(z.array(z.number().int().nonnegative())),
  weights: matrix,
  aux_loss_unscaled: finite,
  expert_counts: z.array(z.number().nonnegative()),
  imbalance_score: z.number().nonnegative(),
  device_load: z.array(z.number().nonnegative()),
});
export type RouterCaseResult = z.infer<typeof RouterCaseResultSchema>;

export const RouterCaseSchema = z
  .object({
    name: z.string().min(1),
    tokens: z.number().int().positive(),
    num_experts: z.number().int().positive(),
    num_groups: z.number().int().positive(),
    top_k: z.number().int().positive(),
    num_devices: z.number().int().positive(),
    logits: matrix,
    router_scale: z.array(float32),
    /** Present in golden files; ignored by `route eval`, which computes it. */
    expected: RouterCaseResultSchema.omit({ name: true }).optional(),
  })
  .superRefine((c, ctx) => {
    const add = (path: (string | number)[], input: unknown, message: string) => ctx.addIssue({ code: 'custom', path, input, message });
    // The error shows the (truncated) array itself, so the message carries the length that was found.
    if (c.logits.length !== c.tokens) add(['logits'], c.logits, `tokens = ${c.tokens} rows (found ${c.logits.length})`);
    c.logits.forEach((row, t) => {
      if (row.length !== c.num_experts) add(['logits', t], row, `num_experts = ${c.num_experts} values (found ${row.length})`);
    });
    if (c.router_scale.length !== c.num_experts) {
      add(['router_scale'], c.router_scale, `num_experts = ${c.num_experts} values (found ${c.router_scale.length})`);
    }
    if (c.num_experts % c.num_groups !== 0) add(['num_groups'], c.num_groups, `a divisor of num_experts (${c.num_experts})`);
    if (c.top_k % c.num_groups !== 0) add(['top_k'], c.top_k, `a multiple of num_groups (${c.num_groups})`);
    else if (c.top_k > c.num_experts) add(['top_k'], c.top_k, `at most num_experts (${c.num_experts}): K/M per group ≤ E/M`);
    if (c.num_experts % c.num_devices !== 0) add(['num_devices'], c.num_devices, `a divisor of num_experts (${c.num_experts})`);
  });
export type RouterCase = z.infer<typeof RouterCaseSchema>;

export const RouterCasesFileSchema = z.object({
  about: z.string().optional(),
  cases: z.array(RouterCaseSchema).min(1),
});
export type RouterCasesFile = z.infer<typeof RouterCasesFileSchema>;

export interface RouterCaseResults {
  cases: RouterCaseResult[];
}

function rows(data: ArrayLike<number>, width: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < data.length; i += width) out.push(Array.from({ length: width }, (_, j) => data[i + j]!));
  return out;
}

/** One case through the MoGE router (M = 1 is plain top-k, still without renormalisation). */
export function evaluateRouterCase(backend: Backend, c: RouterCase): RouterCaseResult {
  const router = createRouter('moge', { numExperts: c.num_experts, numGroups: c.num_groups, topK: c.top_k });
  const logits = backend.fromArray(c.logits.flat(), [c.tokens, c.num_experts]);
  const scale = backend.fromArray(c.router_scale, [c.num_experts]);
  const fwd = router.forward(backend, logits, scale);
  const aux = batchAuxLoss(backend, fwd.probs, fwd.expertIdsHost, c.top_k);
  const balance = balanceMetrics(aux.expertCounts, c.num_devices, c.tokens);
  return {
    name: c.name,
    probs: rows(backend.read(fwd.probs), c.num_experts),
    expert_ids: rows(fwd.expertIdsHost, c.top_k),
    weights: rows(backend.read(fwd.weights), c.top_k),
    aux_loss_unscaled: aux.loss,
    expert_counts: Array.from(aux.expertCounts),
    imbalance_score: balance.imbalanceScore,
    device_load: Array.from(balance.deviceLoad),
  };
}

/** Every case of a parsed router-cases file. */
export function evaluateRouterCases(backend: Backend, file: RouterCasesFile): RouterCaseResults {
  return { cases: file.cases.map((c) => evaluateRouterCase(backend, c)) };
}
