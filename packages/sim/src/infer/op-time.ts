import { dtypeBytes, InfeasibleError, quantizationComputeDType, quantizationWeightDType, type DType, type Quantization } from '@moge/core';
import { estimateOpTime, getEfficiencyProfile, type ChipSpec, type EfficiencyProfile, type Op, type OpTime } from '@moge/ascend-hal';
import type { InferenceProfile } from './profile';
import type { InferComputeOp } from './ops';

/** Modules whose matmuls stay in 16-bit under W8A8/W4A8 (as engines ship them: router gate, output head). */
const HIGH_PRECISION_MODULES = new Set(['router', 'head', 'embedding']);

/** The 16-bit format a chip computes activations in: bf16, or fp16 on chips without a bf16 path (310P). */
export function activationDType(chip: ChipSpec): 'bf16' | 'fp16' {
  return chip.peakFlops.bf16.value > 0 ? 'bf16' : 'fp16';
}

/**
 * The chip's own operator-efficiency profile from @moge/ascend-hal. Not the training simulator's
 * system-level refit: that one absorbs training-only effects (pipeline, optimizer, recompute) that
 * a serving step does not have, and inference calibrates its own global numbers on top of this.
 */
export function chipEfficiencyProfile(chip: ChipSpec): EfficiencyProfile {
  return getEfficiencyProfile(chip.efficiencyProfile.name);
}

function withScaledCurve(p: EfficiencyProfile, launchFraction: number, effScale: number): EfficiencyProfile {
  return {
    ...p,
    launchOverheadS: { ...p.launchOverheadS, value: p.launchOverheadS.value * launchFraction },
    matmul: { ...p.matmul, effMax: { ...p.matmul.effMax, value: p.matmul.effMax.value * effScale } },
  };
}

/**
 * Times of inference compute ops from the @moge/ascend-hal operator model, with the quantisation
 * applied: quantised linears read int8/int4 weights and run at the int8 peak; attention reads the
 * KV cache in its own format; everything else is 16-bit. Cached by shape like the training caches.
 */
export class InferOpCost {
  private readonly cache = new Map<string, OpTime>();
  private readonly plain: EfficiencyProfile;
  private readonly quantized: EfficiencyProfile;
  readonly act: 'bf16' | 'fp16';
  private readonly weightDType: DType;
  private readonly computeDType: DType;
  private readonly pagedAttention: number;
  /** Fixed time added to every collective call (profile.collectiveLaunches chip launches). */
  readonly collectiveOverheadS: number;

  constructor(
    readonly chip: ChipSpec,
    readonly quantization: Quantization,
    readonly kvDType: DType,
    profile: InferenceProfile,
    /** Decode step: attention reads the paged KV cache at the profile's paged-attention efficiency. */
    readonly decode: boolean,
  ) {
    this.act = activationDType(chip);
    const base = chipEfficiencyProfile(chip);
    this.collectiveOverheadS = base.launchOverheadS.value * profile.collectiveLaunches.value;
    this.pagedAttention = profile.pagedAttentionEfficiency.value;
    this.plain = withScaledCurve(base, profile.launchFraction.value, 1);
    this.quantized = withScaledCurve(base, profile.launchFraction.value, profile.quantizedMatmulEfficiency.value);
    const q = quantization === 'bf16' && this.act === 'fp16' ? 'fp16' : quantization;
    if ((q === 'bf16' || q === 'fp16') && !(chip.peakFlops[q].value > 0)) {
      throw new InfeasibleError(`${chip.name} has no ${q} matrix path; use quantization fp16 or w8a8`);
    }
    this.weightDType = quantizationWeightDType(q);
    this.computeDType = quantizationComputeDType(q);
  }

  time(op: InferComputeOp): OpTime {
    const key = JSON.stringify(op, (k, v: unknown) => (k === 'name' ? undefined : v));
    let t = this.cache.get(key);
    if (!t) {
      t = this.compute(op);
      this.cache.set(key, t);
    }
    return t;
  }

  private isQuantized(module: string): boolean {
    return this.computeDType === 'int8' && !HIGH_PRECISION_MODULES.has(module);
  }

  private estimate(op: Op, quantized: boolean): OpTime {
    return estimateOpTime(this.chip, op, { profile: quantized ? this.quantized : this.plain });
  }

  private compute(op: InferComputeOp): OpTime {
    const act = this.act;
    switch (op.kind) {
      case 'matmul': {
        const q = this.isQuantized(op.module);
        return this.estimate({ kind: 'matmul', m: op.m, k: op.k, n: op.n, dtype: q ? this.computeDType : act, ...(q ? { weightDType: this.weightDType } : {}) }, q);
      }
      case 'grouped-matmul': {
        const q = this.isQuantized(op.module);
        const dtype = q ? this.computeDType : act;
        return this.estimate({ kind: 'grouped-matmul', groups: op.groups, tokensPerGroup: Math.round(op.tokens / op.groups), k: op.k, n: op.n, dtype, ...(q ? { weightDType: this.weightDType } : {}) }, q);
      }
      case 'expert-matmul': {
        const q = this.isQuantized(op.module);
        const wBytes = dtypeBytes(q ? this.weightDType : act);
        const aBytes = dtypeBytes(q ? this.computeDType : act);
        const bytes = op.activeExperts * op.k * op.n * wBytes + op.tokens * op.k * aBytes + op.tokens * op.n * dtypeBytes(act);
        const flops = 2 * op.tokens * op.k * op.n;
        const dtype = q ? this.computeDType : act;
        // A grouped GEMM tiles each expert on its own: the efficiency curve applies to one expert's
        // work, not the sum (64 experts × 256 rows fill the chip like 256-row GEMMs, not one big one).
        const groups = Math.max(1, op.activeExperts);
        const one = this.estimate({ kind: 'custom', flops: flops / groups, bytes: bytes / groups, dtype }, q);
        return { ...one, timeS: groups * (one.timeS - one.overheadS) + one.overheadS, computeS: groups * one.computeS, memoryS: groups * one.memoryS, flops, bytes };
      }
      case 'elementwise': {
        const elements = op.bytes / 2;
        return this.estimate({ kind: 'elementwise', elements, bytesPerElement: 2, flopsPerElement: elements > 0 ? op.flops / elements : 0, dtype: act }, false);
      }
      case 'attention': {
        // Scores and softmax stay 16-bit; an int8 KV cache halves the bytes of keys and values read.
        const t = this.estimate(
          { kind: 'attention', batch: op.batch, heads: op.heads, kvHeads: op.kvHeads, seqQ: op.seqQ, seqKV: op.seqKv, headDim: op.headDimQk, headDimV: op.headDimV, causal: op.causal, dtype: act },
          false,
        );
        return this.paged(this.kvScaled(t, op.batch * op.kvHeads * op.seqKv * (op.headDimQk + op.headDimV)));
      }
      case 'latent-attention': {
        const flops = 2 * op.batch * op.heads * op.seqQ * op.seqKv * (op.latentDim + op.valueDim);
        const bytes = op.batch * (op.seqKv * op.latentDim * dtypeBytes(this.kvDType) + op.heads * op.seqQ * (op.latentDim + op.valueDim) * dtypeBytes(act));
        return this.paged(this.estimate({ kind: 'custom', flops, bytes, dtype: act }, false));
      }
    }
  }

  /** Decode attention streams the paged KV cache below the streaming bandwidth. */
  private paged(t: OpTime): OpTime {
    if (!this.decode) return t;
    const memoryS = t.memoryS / this.pagedAttention;
    return { ...t, memoryS, timeS: Math.max(t.computeS, memoryS) + t.overheadS, bound: t.computeS >= memoryS ? 'compute' : 'memory' };
  }

  /** Re-times an attention whose KV elements are stored in `kvDType` rather than the activation format. */
  private kvScaled(t: OpTime, kvElements: number): OpTime {
    const ratio = dtypeBytes(this.kvDType) / dtypeBytes(this.act);
    if (ratio === 1) return t;
    const bytes = t.bytes - kvElements * dtypeBytes(this.act) * (1 - ratio);
    const memoryS = (t.memoryS * bytes) / t.bytes;
    return { ...t, bytes, memoryS, timeS: Math.max(t.computeS, memoryS) + t.overheadS, bound: t.computeS >= memoryS ? 'compute' : 'memory' };
  }
}
