import { DTypeSchema, InfeasibleError, ValidationError, type DType } from '@moge/core';
import type { ChipSpec } from '../catalog/schemas';
import type { Op } from './op';
import { getEfficiencyProfile } from './profiles';
import { matmulEfficiency, type EfficiencyProfile } from './profile';
import { opWork } from './work';

export interface OpTimeOptions {
  /** Use this profile instead of the chip's own (fits, what-if studies). */
  profile?: EfficiencyProfile;
  /** Kernel launches the op costs (a fused op = 1, an unfused chain = its length). Default 1. */
  launches?: number;
}

export interface OpTime {
  timeS: number;
  /** FLOPs at the shape's efficiency. */
  computeS: number;
  /** Bytes at the achievable HBM bandwidth. */
  memoryS: number;
  /** Fixed launch cost. */
  overheadS: number;
  bound: 'compute' | 'memory';
  flops: number;
  bytes: number;
  /** Compute efficiency used (fraction of peak). */
  efficiency: number;
}

/** Peak of the matrix unit for a format. int4 operands are computed in int8 (W4A8). */
export function matrixPeak(chip: ChipSpec, dtype: DType): number {
  const key = dtype === 'int4' ? 'int8' : dtype;
  const peak = chip.peakFlops[key].value;
  if (!(peak > 0)) {
    throw new InfeasibleError(`${chip.name} has no ${dtype} matrix path (peakFlops.${key} = ${peak}); choose another dtype`);
  }
  return peak;
}

const OP_KINDS: readonly string[] = ['matmul', 'grouped-matmul', 'elementwise', 'attention', 'custom'];
const DTYPES: readonly string[] = DTypeSchema.options;

function checkAmounts(op: Op): void {
  // Ops come from typed callers in hot loops, so this is a cheap guard, not a zod parse (OpSchema is for boundaries).
  // An unknown kind or dtype would otherwise surface as a raw TypeError or, for elementwise bytes, a silent NaN time.
  if (typeof op !== 'object' || op === null || !OP_KINDS.includes(op.kind)) {
    const kind = typeof op === 'object' && op !== null ? (op as { kind?: unknown }).kind : op;
    throw new ValidationError('op', [{ path: 'kind', received: kind, expected: `one of ${OP_KINDS.join(', ')}` }]);
  }
  for (const key of ['dtype', 'weightDType'] as const) {
    const dtype = (op as { [k in typeof key]?: unknown })[key];
    if ((key === 'dtype' || dtype !== undefined) && !DTYPES.includes(dtype as string)) {
      throw new ValidationError(`${op.kind} op`, [{ path: key, received: dtype, expected: `one of ${DTYPES.join(', ')}` }]);
    }
  }
  // A per-group list must cover every group: a short one would silently leave groups out of the FLOPs and bytes.
  if (op.kind === 'grouped-matmul' && Array.isArray(op.tokensPerGroup) && op.tokensPerGroup.length !== op.groups) {
    throw new ValidationError('grouped-matmul op', [
      { path: 'tokensPerGroup', received: `${op.tokensPerGroup.length} entries`, expected: `one count per group (groups = ${op.groups}), or a single number for all` },
    ]);
  }
  for (const [key, value] of Object.entries(op)) {
    const values: unknown[] = Array.isArray(value) ? value : [value];
    values.forEach((v, i) => {
      if (typeof v === 'number' && !(Number.isFinite(v) && v >= 0)) {
        const path = Array.isArray(value) ? `${key}[${i}]` : key;
        throw new ValidationError(`${op.kind} op`, [{ path, received: v, expected: 'a finite number ≥ 0' }]);
      }
    });
  }
}

/**
 * Roofline time of one operator on one device: max(compute at a work-dependent efficiency, bytes at
 * the achievable HBM bandwidth) + a fixed launch overhead. The efficiency curve comes from the
 * chip's profile (profiles/*.json), fitted to microbenchmarks or marked assumed.
 */
export function estimateOpTime(chip: ChipSpec, op: Op, options: OpTimeOptions = {}): OpTime {
  checkAmounts(op);
  const profile = options.profile ?? getEfficiencyProfile(chip.efficiencyProfile.name);
  const launches = options.launches ?? 1;
  if (!(Number.isInteger(launches) && launches >= 0)) {
    throw new ValidationError('op options', [{ path: 'launches', received: launches, expected: 'an integer ≥ 0' }]);
  }
  const work = opWork(op);
  let efficiency: number;
  let peak: number;
  if (work.unit === 'vector') {
    // Elementwise work runs on the vector/SIMT units, whose rate is the fp32 (non-tensor) peak.
    efficiency = profile.vectorEfficiency.value;
    peak = chip.peakFlops.fp32.value;
  } else {
    efficiency = matmulEfficiency(profile.matmul, work.flops);
    if (op.kind === 'attention') efficiency *= profile.attentionEfficiency.value;
    peak = matrixPeak(chip, op.dtype);
  }
  const computeS = work.flops === 0 ? 0 : work.flops / (peak * efficiency);
  const memoryS = work.bytes / (chip.hbmBandwidth.value * profile.hbmEfficiency.value);
  const overheadS = launches * profile.launchOverheadS.value;
  return {
    timeS: Math.max(computeS, memoryS) + overheadS,
    computeS,
    memoryS,
    overheadS,
    bound: computeS >= memoryS ? 'compute' : 'memory',
    flops: work.flops,
    bytes: work.bytes,
    efficiency,
  };
}
