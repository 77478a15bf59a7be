import type { HostArray } from '../backend';
import { allocateOutput, CpuTensor, permutedStrides } from './cpu-tensor';
import { COPY_RUNS_MAX_LEAD, fitsNativeCount, type NativeKernels } from '../native/native-kernels';
import { transpose as referenceTranspose } from '../reference/indexing';

/**
 * Runs at least this long are copied with TypedArray.set (a memcpy, after making a subarray view)
 * instead of an element loop. Measured on 262 144 f32 ([4, S, 4, run] → [0, 2, 1, 3]): run 64:
 * 850 → 336 µs, run 32: 1174 → 716 µs, run 16: 1028 → 1189 µs (the view costs more than it saves).
 */
export const SET_MIN_RUN = 32;

/** transposeRuns with its runs copied by moge's native library (a memcpy each instead of a view and a set). */
export function nativeTransposeRuns(native: Pick<NativeKernels, 'copyRuns'>): (a: CpuTensor, perm: readonly number[]) => CpuTensor {
  return (a, perm) => transposeRuns(a, perm, SET_MIN_RUN, native);
}

/**
 * Transpose for the permutations attention uses, which all keep the last axis in place
 * ([T, H, D] → [H, T, D] and the like): the data moves in runs of D contiguous elements, so the
 * odometer advances once per run instead of once per element as in the reference kernel. Any other
 * permutation, and every malformed one (whose error the reference produces), goes to the reference.
 */
export function transposeRuns(a: CpuTensor, perm: readonly number[], setMinRun: number = SET_MIN_RUN, native?: Pick<NativeKernels, 'copyRuns'>): CpuTensor {
  const rank = a.shape.length;
  const valid = perm.length === rank && new Set(perm).size === rank && perm.every((p) => Number.isInteger(p) && p >= 0 && p < rank);
  if (!valid || rank < 2 || perm[rank - 1] !== rank - 1) return referenceTranspose(a, perm);
  const run = a.shape[rank - 1]!;
  const lead = rank - 1;
  const outShape = perm.map((p) => a.shape[p]!);
  const strides = permutedStrides(a.shape, perm.slice(0, lead));
  const out = allocateOutput(a.dtype, a.size);
  const src = a.data;
  const runs = run === 0 ? 0 : a.size / run;
  const leadShape = outShape.slice(0, lead);
  if (native && lead <= COPY_RUNS_MAX_LEAD && fitsNativeCount(a.size)) native.copyRuns(src, out, runs, run, Int32Array.from(leadShape), Int32Array.from(strides));
  else copyRuns(src, out, runs, run, leadShape, strides, setMinRun);
  return new CpuTensor(a.backend, a.dtype, outShape, out);
}

/**
 * The JS side of NativeKernels.copyRuns (same arguments): run r of dst is read where an odometer over
 * dst's leading `shape` reaches after r steps, `strides` being src's strides of those axes. Runs of at
 * least `setMinRun` elements are copied with TypedArray.set, shorter ones element by element.
 */
export function copyRuns(
  src: HostArray,
  dst: HostArray,
  runs: number,
  run: number,
  shape: ArrayLike<number>,
  strides: ArrayLike<number>,
  setMinRun: number = SET_MIN_RUN,
): void {
  const lead = shape.length;
  const coord = new Array<number>(lead).fill(0);
  let from = 0;
  for (let r = 0, to = 0; r < runs; r++, to += run) {
    if (run >= setMinRun) dst.set(src.subarray(from, from + run), to);
    else for (let j = 0; j < run; j++) dst[to + j] = src[from + j]!;
    for (let ax = lead - 1; ax >= 0; ax--) {
      coord[ax]!++;
      from += strides[ax]!;
      if (coord[ax]! < shape[ax]!) break;
      from -= strides[ax]! * coord[ax]!;
      coord[ax] = 0;
    }
  }
}
