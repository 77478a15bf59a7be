import type { Backend, Tensor } from '@moge/ascend-hal';
import { addInto } from './accumulate';
import type { MoeWeights } from './moe';

/** What an expert runner is told about one MoE layer's call: its weights and the expert-sorted segments. */
export interface ExpertCall {
  layer: number;
  weights: MoeWeights;
  /** E+1 segment boundaries of the expert-sorted rows (expert e owns rows [offsets[e], offsets[e+1])). */
  offsets: Int32Array;
  /** Rows per expert, [E]. */
  counts: Int32Array;
}

export interface ExpertGrads {
  dxs: Tensor;
  /** Gradients of the stacked expert weights, [E, …]; left out by a runner that keeps them itself. */
  dExpertGate?: Tensor;
  dExpertUp?: Tensor;
  dExpertDown?: Tensor;
}

/**
 * The hook where a MoE layer runs its routed experts. Forward gets the rows sorted by expert
 * (`xs`, [T·K, h]) and returns the experts' outputs in the same order (`ys`); backward turns `dys`
 * into `dxs`. The default runs every expert here; an expert-parallel runner sends rows to the rank
 * that owns their expert, runs only its local experts and accumulates only their weight gradients.
 * A runner must be called in the same layer order on every rank (it may run collectives).
 */
export interface ExpertRunner {
  forward(b: Backend, call: ExpertCall, xs: Tensor): { ys: Tensor; saved: unknown };
  backward(b: Backend, call: ExpertCall, saved: unknown, dys: Tensor): ExpertGrads;
}

/** Activations a SwiGLU expert block keeps for its backward. */
export interface ExpertActivations {
  xs: Tensor;
  g: Tensor;
  u: Tensor;
  a: Tensor;
}

/**
 * SwiGLU experts over expert-sorted rows as three grouped matmuls:
 *   g = xs · W_gateᵀ, u = xs · W_upᵀ, a = silu(g) · u, ys = a · W_downᵀ.
 * Weights are [G, F, h] / [G, h, F] and `offsets` has G+1 entries (G = all experts, or a rank's share).
 */
export function expertBlockForward(b: Backend, wGate: Tensor, wUp: Tensor, wDown: Tensor, offsets: Int32Array, xs: Tensor): { ys: Tensor; saved: ExpertActivations } {
  const g = b.groupedMatmul(xs, wGate, offsets, { transB: true });
  const u = b.groupedMatmul(xs, wUp, offsets, { transB: true });
  const a = b.swiglu(g, u);
  return { ys: b.groupedMatmul(a, wDown, offsets, { transB: true }), saved: { xs, g, u, a } };
}

export function expertBlockBackward(
  b: Backend,
  wGate: Tensor,
  wUp: Tensor,
  wDown: Tensor,
  offsets: Int32Array,
  s: ExpertActivations,
  dys: Tensor,
): Required<ExpertGrads> {
  const da = b.groupedMatmul(dys, wDown, offsets);
  const dExpertDown = b.groupedMatmulWeightGrad(dys, s.a, offsets);
  const [dg, du] = b.swigluBackward(s.g, s.u, da);
  const dExpertGate = b.groupedMatmulWeightGrad(dg, s.xs, offsets);
  const dExpertUp = b.groupedMatmulWeightGrad(du, s.xs, offsets);
  const dxs = addInto(b, b.groupedMatmul(dg, wGate, offsets), b.groupedMatmul(du, wUp, offsets));
  return { dxs, dExpertGate, dExpertUp, dExpertDown };
}

/** The default runner: every expert of the layer, on this backend. */
export const localExperts: ExpertRunner = {
  forward: (b, c, xs) => expertBlockForward(b, c.weights.expertGate, c.weights.expertUp, c.weights.expertDown, c.offsets, xs),
  backward: (b, c, saved, dys) =>
    expertBlockBackward(b, c.weights.expertGate, c.weights.expertUp, c.weights.expertDown, c.offsets, saved as ExpertActivations, dys),
};
