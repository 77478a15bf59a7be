import type { Backend, Tensor } from '@moge/ascend-hal';
import type { MoeArch } from '@moge/core';
import { batchAuxLoss, createRouter, type Router, type RouterForward } from '@moge/router';
import { planDispatch, type DispatchPlan } from './dispatch';
import { addInto } from './accumulate';
import { localExperts, type ExpertRunner } from './expert-runner';
import { linearBackward, linearForward } from './linear';
import { swigluFfnBackward, swigluFfnForward, type SwigluSaved, type SwigluWeights } from './swiglu-ffn';

/**
 * The MoGE feed-forward block of Pangu Pro MoE:
 *   logits = x · W_gateᵀ, route (MoGE: softmax over all E, K/M best per group, weight = p · router_scale),
 *   y = Σ_k weight_k · Expert_k(x) + SharedExpert(x).
 * Routed experts run as three grouped matmuls over the expert-sorted assignment block.
 */
export interface MoeWeights {
  gate: Tensor; // router gate [E, h]
  routerScale: Tensor; // [1, E]
  expertGate: Tensor; // [E, F, h]
  expertUp: Tensor; // [E, F, h]
  expertDown: Tensor; // [E, h, F]
  shared?: SwigluWeights;
}

export interface MoeSaved {
  x: Tensor;
  route: RouterForward;
  plan: DispatchPlan;
  xs: Tensor; // [T·K, h] expert-sorted inputs
  /** Who ran the experts and what it kept for their backward (`runner.backward`). */
  runner: ExpertRunner;
  expertSaved: unknown;
  layer: number;
  yTokens: Tensor; // [T, K, h] expert outputs back in token order
  shared?: SwigluSaved;
  /** ∂aux/∂probs (unscaled), [T, E]. */
  dAuxProbs: Tensor;
}

export interface LayerRouting {
  layer: number;
  /** [T][K] expert ids, group-major, best-first in a group. */
  expertIds: Int32Array;
  /** [T][K] combine weights p · router_scale. */
  weights: Float32Array;
  /** Assignments per expert, [E]. */
  counts: Int32Array;
  /** Unscaled batch-level auxiliary loss Σ f_i · p̄_i. */
  auxLoss: number;
}

export interface MoeForward {
  y: Tensor;
  saved: MoeSaved;
  routing: Omit<LayerRouting, 'layer'>;
}

/** The router of a model's MoE layers (stateless; one serves every layer). */
/**
 * Routers are stateless, so one per configuration serves every pass: building one validates its
 * config with zod, which a batch-1 decode step would otherwise pay on every token.
 */
const routers = new Map<string, Router>();

export function routerForArch(arch: MoeArch): Router {
  const config = { numExperts: arch.numExperts, numGroups: arch.router === 'moge' ? arch.numExpertGroups : 1, topK: arch.topK };
  const key = `${arch.router}:${config.numExperts}:${config.numGroups}:${config.topK}`;
  let router = routers.get(key);
  if (!router) routers.set(key, (router = createRouter(arch.router, config)));
  return router;
}

/**
 * `runner` executes the routed experts over the expert-sorted rows (default: all of them here, as
 * three grouped matmuls); an expert-parallel trainer passes one that ships rows to the experts' owners.
 */
export function moeForward(b: Backend, arch: MoeArch, router: Router, w: MoeWeights, x: Tensor, runner: ExpertRunner = localExperts, layer = 0): MoeForward {
  const t = x.shape[0]!;
  const h = arch.hiddenSize;
  const k = arch.topK;
  const e = arch.numExperts;
  const route = router.forward(b, linearForward(b, x, w.gate), b.reshape(w.routerScale, [e]));
  const plan = planDispatch(route.expertIdsHost, e, k);

  const xs = b.gatherRows(x, plan.tokenOfSorted);
  const call = { layer, weights: w, offsets: plan.offsets, counts: plan.counts };
  const { ys, saved: expertSaved } = runner.forward(b, call, xs);

  // Combine: back to token order, then one batched [1, K]·[K, h] product per token applies the K
  // weights and sums the K expert outputs in the same step.
  const yTokens = b.reshape(b.gatherRows(ys, plan.positionOf), [t, k, h]);
  let y = b.reshape(b.matmul(b.reshape(route.weights, [t, 1, k]), yTokens), [t, h]);
  let shared: SwigluSaved | undefined;
  if (w.shared) {
    const s = swigluFfnForward(b, w.shared, x);
    y = addInto(b, y, s.y);
    shared = s.saved;
  }
  const aux = batchAuxLoss(b, route.probs, route.expertIdsHost, k);
  return {
    y,
    saved: { x, route, plan, xs, runner, expertSaved, layer, yTokens, shared, dAuxProbs: aux.dProbs },
    routing: {
      expertIds: route.expertIdsHost,
      weights: Float32Array.from(b.read(route.weights) as Float32Array),
      counts: plan.counts,
      auxLoss: aux.loss,
    },
  };
}

export interface MoeGrads {
  dx: Tensor;
  dGate: Tensor;
  dRouterScale: Tensor; // [1, E]
  /** Absent when the expert runner keeps its experts' gradients itself (expert parallelism). */
  dExpertGate?: Tensor;
  dExpertUp?: Tensor;
  dExpertDown?: Tensor;
  dShared?: { gate: Tensor; up: Tensor; down: Tensor };
}

/** Backward of `moeForward`; `auxAlpha` scales the auxiliary loss's gradient (loss = … + α·aux). */
export function moeBackward(b: Backend, arch: MoeArch, router: Router, w: MoeWeights, s: MoeSaved, dy: Tensor, auxAlpha: number): MoeGrads {
  const t = dy.shape[0]!;
  const h = arch.hiddenSize;
  const k = arch.topK;
  const e = arch.numExperts;
  const { plan } = s;

  // Combine: y_t = Σ_k w_tk · yTokens_tk.
  const dy3 = b.reshape(dy, [t, 1, h]);
  const dWeights = b.reshape(b.matmul(dy3, s.yTokens, { transB: true }), [t, k]);
  const dYTokens = b.reshape(b.matmul(b.reshape(s.route.weights, [t, 1, k]), dy3, { transA: true }), [t * k, h]);
  const dys = b.gatherRows(dYTokens, plan.order);

  const call = { layer: s.layer, weights: w, offsets: plan.offsets, counts: plan.counts };
  const { dxs, dExpertGate, dExpertUp, dExpertDown } = s.runner.backward(b, call, s.expertSaved, dys);

  // Router: the weights' gradient plus α · ∂aux/∂p, through the softmax to the logits and the gate.
  const dProbs = auxAlpha !== 0 ? b.affine(s.dAuxProbs, auxAlpha) : undefined;
  const rg = router.backward(b, s.route, dWeights, dProbs);
  const gate = linearBackward(b, s.x, w.gate, rg.dLogits, false);
  // The gate's input gradient is a fresh [T, h]: the experts' K rows per token are summed into it.
  let dx = gate.dx;
  b.scatterAddRows(dx, plan.tokenOfSorted, dxs);

  let dShared: MoeGrads['dShared'];
  if (w.shared && s.shared) {
    const sg = swigluFfnBackward(b, w.shared, s.shared, dy);
    dx = addInto(b, dx, sg.dx);
    dShared = { gate: sg.dGate, up: sg.dUp, down: sg.dDown };
  }
  return { dx, dGate: gate.dWeight, dRouterScale: b.reshape(rg.dRouterScale, [1, e]), dExpertGate, dExpertUp, dExpertDown, dShared };
}
