import type { Backend, Tensor } from '@moge/ascend-hal';

/**
 * `fresh += other`, returning `fresh`. For sums whose left operand is a temporary this function's
 * caller owns (a kernel's fresh output that nothing else holds), so the sum can be taken in place:
 * `axpyInPlace` allocates nothing and runs one tight loop, where `binary('add')` allocates a new
 * tensor per call — on the CPU backends the residual and gradient sums were the single largest cost
 * of a training step. Never pass a parameter, a cached key/value or a tensor saved for backward as `fresh`.
 */
export function addInto(b: Backend, fresh: Tensor, other: Tensor): Tensor {
  b.axpyInPlace(fresh, other);
  return fresh;
}
