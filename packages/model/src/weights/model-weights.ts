import type { Backend, Tensor } from '@moge/ascend-hal';
import { MogeError, Rng, ValidationError, type MoeArch } from '@moge/core';
import type { HfExtraConfig } from '../config/hf-config';
import type { HostTensor } from './hf-layout';
import { paramSpecs } from './param-specs';

/**
 * A model's parameters on a backend: name → tensor (names of `paramSpecs`). The trainer's optimizer
 * iterates `params`; a backward pass returns gradients under the same names, with the same shapes.
 */
export interface ModelWeights {
  readonly arch: MoeArch;
  readonly backend: Backend;
  readonly params: ReadonlyMap<string, Tensor>;
  /**
   * The HF `config.json` keys beyond the arch that the model was loaded with (`architectures`,
   * `torch_dtype`, `auto_map`, token ids, unknown keys): `loadModelDir` sets them and `saveModelDir`
   * writes them back, so a load → save round trip keeps them. Absent on a model made here.
   */
  readonly extraConfig?: HfExtraConfig;
}

/** Gradients keyed like `ModelWeights.params`. */
export type ModelGrads = Map<string, Tensor>;

/** The parameter `name`; a missing one is a programming error, named. */
export function param(w: ModelWeights, name: string): Tensor {
  const t = w.params.get(name);
  if (!t) throw new MogeError('E_NO_PARAM', `model parameter ${name} does not exist`);
  return t;
}

/** Puts host tensors (already in the stacked layout, e.g. from `fromHfTensors`) on `backend`, checking every name and shape. */
export function createModelWeights(arch: MoeArch, backend: Backend, host: ReadonlyMap<string, HostTensor>): ModelWeights {
  const specs = paramSpecs(arch);
  const issues: { path: string; received?: unknown; expected: string }[] = [];
  for (const s of specs) {
    const t = host.get(s.name);
    if (!t) issues.push({ path: s.name, expected: `a tensor of shape [${s.shape.join(', ')}]` });
    else if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i]) || t.data.length !== s.shape.reduce((a, b) => a * b, 1)) {
      issues.push({ path: s.name, received: t.shape, expected: `shape [${s.shape.join(', ')}]` });
    }
  }
  if (issues.length > 0) throw new ValidationError('model parameters', issues);
  const params = new Map<string, Tensor>();
  for (const s of specs) params.set(s.name, backend.fromArray(host.get(s.name)!.data, s.shape));
  return { arch, backend, params };
}

/**
 * Fresh weights for training from scratch, as HF initialises PanguProMoE: every matrix (embedding,
 * projections, router gate, experts, head) ~ normal(0, std), biases zero, norms and router_scale one.
 * Each tensor draws from its own stream `rng.fork(name)`, so adding a layer does not reshuffle the others.
 */
export function initModelWeights(arch: MoeArch, backend: Backend, options: { seed: number; std?: number }): ModelWeights {
  const std = options.std ?? 0.02;
  const root = new Rng(options.seed);
  const host = new Map<string, HostTensor>();
  for (const s of paramSpecs(arch)) {
    const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
    if (s.init === 'normal') root.fork(s.name).fillNormal(data, std);
    else if (s.init === 'ones') data.fill(1);
    host.set(s.name, { shape: s.shape, data });
  }
  return createModelWeights(arch, backend, host);
}

/** Host copies of every parameter (for checkpoints). */
export function weightsToHost(w: ModelWeights): Map<string, HostTensor> {
  return tensorsToHost(w.backend, w.params);
}

export function tensorsToHost(backend: Backend, tensors: ReadonlyMap<string, Tensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [name, t] of tensors) out.set(name, { shape: [...t.shape], data: Float32Array.from(backend.read(t) as Float32Array) });
  return out;
}
