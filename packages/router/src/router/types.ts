import type { Backend, Tensor } from '@moge/ascend-hal';
import type { RouterConfig } from './config';

/**
 * Everything a router's forward produced. The tensors live on the backend that ran the forward;
 * `expertIdsHost` is a host copy of the ids because the dispatcher (permute, grouped matmul offsets)
 * needs them on the host anyway, and so does the router's own bookkeeping.
 */
export interface RouterForward {
  /**
   * [T, E] scores over all experts: softmax probabilities (or sigmoid scores). The aux loss reads these;
   * pass it the router's config (`batchAuxLoss(b, fwd.probs, ids, k, router.config)`) so sigmoid scores
   * are normalised per token first.
   */
  probs: Tensor;
  /** [T, K] i32 expert ids; order is the router's (group-major for MoGE, best-first for top-k). */
  expertIds: Tensor;
  /** Host copy of `expertIds`, row-major [T·K]. */
  expertIdsHost: Int32Array;
  /** [T, K] combine weights: gate · router_scale[id]. */
  weights: Tensor;
  /** [T, K] the selected scores before renormalisation (probs[t, id]). Kept for backward. */
  selectedScores: Tensor;
  /** [T, K] router_scale gathered at the selected ids. Kept for backward. */
  selectedScale: Tensor;
  /** Tokens T (rows of the logits). */
  tokens: number;
}

/** Gradients of the loss w.r.t. the router's inputs. */
export interface RouterGrads {
  /** [T, E] d loss / d logits. */
  dLogits: Tensor;
  /** [E] d loss / d router_scale. */
  dRouterScale: Tensor;
}

/**
 * A router: logits [T, E] and router_scale [E] on a backend in, routing decision and combine weights
 * out; backward maps d weights (and, from the auxiliary loss, d probs) back to the logits and the
 * scale. Stateless: one instance may serve every layer and every backend.
 */
export interface Router {
  /** Registry name: 'moge', 'topk', 'group-limited', or a plugin's own. */
  readonly name: string;
  readonly config: Readonly<RouterConfig>;
  forward(backend: Backend, logits: Tensor, routerScale: Tensor): RouterForward;
  /**
   * @param dWeights [T, K] gradient of the loss w.r.t. `forward(...).weights`.
   * @param dProbs optional [T, E] gradient w.r.t. `forward(...).probs` (from the auxiliary loss).
   */
  backward(backend: Backend, forward: RouterForward, dWeights: Tensor, dProbs?: Tensor): RouterGrads;
}
