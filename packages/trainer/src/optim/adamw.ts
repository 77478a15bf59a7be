import { jsVectorMath, type VectorMath } from '@moge/ascend-hal';
import { z } from 'zod';

/**
 * AdamW (Loshchilov & Hutter) with decoupled weight decay, written as PyTorch's `torch.optim.AdamW`
 * does it: p ← p·(1 − lr·λ), then p ← p − lr·m̂/(√v̂ + ε). State is fp32 like the parameters, so a
 * checkpoint stores it exactly and a resumed run continues bit for bit.
 */
export const AdamWConfigSchema = z.object({
  beta1: z.number().min(0).lt(1).default(0.9),
  beta2: z.number().min(0).lt(1).default(0.95),
  eps: z.number().positive().default(1e-8),
  weightDecay: z.number().nonnegative().default(0.1),
});
export type AdamWConfig = z.output<typeof AdamWConfigSchema>;

/** Weight decay applies to matrices only: norms, biases and router_scale ([1, E]) keep theirs. */
export function decaysByDefault(shape: readonly number[]): boolean {
  return shape.filter((d) => d > 1).length >= 2;
}

export interface AdamWParam {
  name: string;
  shape: readonly number[];
  /** fp32 master weights, updated in place. */
  value: Float32Array;
}

export class AdamW {
  readonly config: AdamWConfig;
  /** Updates done so far (bias correction uses it). */
  step = 0;
  readonly m = new Map<string, Float32Array>();
  readonly v = new Map<string, Float32Array>();

  /**
   * `math` runs the per-element update: the JS loops by default (float64 arithmetic rounded to f32);
   * the trainer passes `vectorMath()`, whose WebAssembly SIMD kernel computes in f32 as PyTorch does
   * (≈ 3× faster over 25 M parameters).
   */
  constructor(
    config: Partial<AdamWConfig> = {},
    private readonly math: VectorMath = jsVectorMath,
  ) {
    this.config = AdamWConfigSchema.parse(config);
  }

  /** One update of every parameter with its gradient at learning rate `lr`. */
  update(params: readonly AdamWParam[], grads: ReadonlyMap<string, Float32Array>, lr: number): void {
    this.step += 1;
    const { beta1, beta2, eps, weightDecay } = this.config;
    const bc1 = 1 - beta1 ** this.step;
    const bc2 = 1 - beta2 ** this.step;
    for (const p of params) {
      const g = grads.get(p.name);
      if (!g || g.length !== p.value.length) throw new RangeError(`AdamW: gradient of ${p.name} missing or of length ${g?.length}, expected ${p.value.length}`);
      let m = this.m.get(p.name);
      let v = this.v.get(p.name);
      if (!m || !v) {
        m = new Float32Array(p.value.length);
        v = new Float32Array(p.value.length);
        this.m.set(p.name, m);
        this.v.set(p.name, v);
      }
      const decay = weightDecay > 0 && decaysByDefault(p.shape) ? 1 - lr * weightDecay : 1;
      // PyTorch's form: step size lr/bc1, denominator √v/√bc2 + eps — one division and no per-element
      // bias-correction divides (1.7× faster over 25 M parameters than dividing m and v each time).
      this.math.adamw(p.value, g, m, v, { decay, stepSize: lr / bc1, invSqrtBc2: 1 / Math.sqrt(bc2), eps, beta1, beta2 });
    }
  }

  /** Restores state saved from `m`, `v` and `step` (a checkpoint). */
  load(step: number, m: ReadonlyMap<string, Float32Array>, v: ReadonlyMap<string, Float32Array>): void {
    this.step = step;
    this.m.clear();
    this.v.clear();
    for (const [k, a] of m) this.m.set(k, Float32Array.from(a));
    for (const [k, a] of v) this.v.set(k, Float32Array.from(a));
  }
}
