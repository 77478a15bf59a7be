import type { Backend, Tensor } from '@moge/ascend-hal';
import type { RouterConfig } from './config';
import { gateBackward, gateForward, gatherScale } from './gate';
import { scoreBackward, scoreForward } from './score';
import type { Selection } from './select';
import type { Router, RouterForward, RouterGrads } from './types';

/**
 * The three built-in routers share one shape: scores = φ(logits); a selection rule picks K ids per
 * token; weight = gate(selected scores) · router_scale[id]. Only the selection differs, so forward
 * and backward are written once here and every router gets the same, tested gradient.
 */
export type SelectFn = (backend: Backend, scores: Tensor, config: RouterConfig) => Selection;

/** A forward that produces the whole RouterForward itself (e.g. a fused host kernel); null = not applicable. */
export type FastForward = (backend: Backend, logits: Tensor, routerScale: Tensor, config: RouterConfig) => RouterForward | null;

export function checkInputs(config: RouterConfig, logits: Tensor, routerScale: Tensor): number {
  const e = config.numExperts;
  if (logits.shape.length !== 2 || logits.shape[1] !== e || logits.dtype !== 'f32') {
    throw new RangeError(`router logits: got ${logits.dtype} [${logits.shape.join(', ')}], expected f32 [T, ${e}]`);
  }
  if (routerScale.size !== e || routerScale.dtype !== 'f32') {
    throw new RangeError(`router_scale: got ${routerScale.dtype} [${routerScale.shape.join(', ')}], expected f32 [${e}]`);
  }
  return logits.shape[0]!;
}

export function createScoredRouter(name: string, config: RouterConfig, select: SelectFn, fast?: FastForward): Router {
  const k = config.topK;
  const e = config.numExperts;
  return {
    name,
    config: Object.freeze({ ...config }),

    forward(backend, logits, routerScale): RouterForward {
      const tokens = checkInputs(config, logits, routerScale);
      const fused = fast?.(backend, logits, routerScale, config);
      if (fused) return fused;
      const probs = scoreForward(backend, logits, config.scoring);
      const sel = select(backend, probs, config);
      const selectedScale = gatherScale(backend, routerScale, sel.idsHost, tokens, k);
      const { weights } = gateForward(backend, sel.values, selectedScale, config.renormalize);
      return {
        probs,
        expertIds: sel.ids,
        expertIdsHost: sel.idsHost,
        weights,
        selectedScores: sel.values,
        selectedScale,
        tokens,
      };
    },

    backward(backend, fwd, dWeights, dProbs): RouterGrads {
      const { tokens } = fwd;
      if (dWeights.size !== tokens * k) {
        throw new RangeError(`router dWeights: got [${dWeights.shape.join(', ')}], expected [${tokens}, ${k}]`);
      }
      if (dProbs && dProbs.size !== tokens * e) {
        throw new RangeError(`router dProbs: got [${dProbs.shape.join(', ')}], expected [${tokens}, ${e}]`);
      }
      const dW = backend.reshape(dWeights, [tokens, k]);
      const g = gateBackward(backend, fwd.selectedScores, fwd.selectedScale, dW, config.renormalize);

      // Scatter the per-selection gradients onto the experts: row t·E + id of a [T·E, 1] view.
      const ids = fwd.expertIdsHost;
      const flat = new Int32Array(tokens * k);
      for (let t = 0; t < tokens; t++) for (let j = 0; j < k; j++) flat[t * k + j] = t * e + ids[t * k + j]!;
      const dScoresFlat = backend.zeros([tokens * e, 1]);
      backend.scatterAddRows(dScoresFlat, flat, backend.reshape(g.dSelected, [tokens * k, 1]));
      let dScores = backend.reshape(dScoresFlat, [tokens, e]);
      if (dProbs) dScores = backend.binary('add', dScores, backend.reshape(dProbs, [tokens, e]));

      const dScale = backend.zeros([e, 1]);
      backend.scatterAddRows(dScale, ids, backend.reshape(g.dSelectedScale, [tokens * k, 1]));

      return {
        dLogits: scoreBackward(backend, fwd.probs, dScores, config.scoring),
        dRouterScale: backend.reshape(dScale, [e]),
      };
    },
  };
}
