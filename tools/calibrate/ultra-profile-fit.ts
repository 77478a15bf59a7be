/**
 * The fit behind packages/sim/profiles/ascend-910b-training.json, shared by `fit-sim-profile.ts` (which
 * writes the profile) and `ult-s1-whatif.ts` (which refits it under other assumptions). No kernel of the
 * 910B has been timed here, so ascend-hal's 910B operator profile is the H200 fit transferred
 * (assumed). Two system-level parameters are free, each pinned by the one published case that speaks
 * to it:
 *
 * - the saturation efficiency of the 910B matrix unit (effMax of that curve), by ULT-T1 (the optimised
 *   run: its tokens/s and MFU);
 * - the expert-popularity skew of a top-k router without re-placement (topKZipfExponent), by ULT-T0
 *   (the only case that runs without load rebalancing: its tokens/s and MFU).
 *
 * Each case contributes the mean of its two relative errors (tokens/s and MFU differ only through the
 * FLOP convention, so the fit splits that difference instead of matching one figure exactly). The two
 * parameters are solved by alternating bisections (each figure is monotone in its parameter). PRO-T1
 * and the search ranking stay predictions: nothing here looks at them.
 */
import { getEfficiencyProfile } from '@moge/ascend-hal';
import { getSimProfile, PUBLISHED, runCase, ULT_T0, ULT_T1, type SimProfile, type TrainingCase } from '@moge/sim';

const FIT_SOURCE = 'fitted by tools/calibrate/fit-sim-profile.ts';
const EFF = [0.2, 1] as const;
const ZIPF = [0, 1.5] as const;
const ROUNDS = 6;

/**
 * What a what-if changes before the fit: the shape of the 910B matmul curve (its saturation work
 * scaled, its exponent replaced; the stored shape is the H200 fit transferred) and the activation
 * memory factor. The default is the stored profile's assumptions.
 */
export interface FitAssumptions {
  w0Scale?: number;
  alpha?: number;
  activationMemoryFactor?: number;
}

export interface ProfileFit {
  effMax: number;
  topKZipfExponent: number;
  profile: SimProfile;
}

const base = getSimProfile('uncalibrated');
const chip = getEfficiencyProfile('ascend-910b');

function profileWith(effMax: number, zipf: number, a: FitAssumptions): SimProfile {
  const whatIf = (value: number) => ({ value, source: 'what-if (tools/calibrate/ult-s1-whatif.ts)', confidence: 'assumed' as const });
  return {
    ...base,
    name: 'ascend-910b-training',
    topKZipfExponent: { value: zipf, source: `${FIT_SOURCE}: ULT-T0 tokens/s and MFU (the run without load rebalancing)`, confidence: 'measured' },
    deviceMemoryReserveBytes: {
      value: 5 * 2 ** 30,
      source:
        'assumed: ~3 GiB of the 64 GiB HBM not offered to the framework (torch_npu reports about 61 GiB capacity on 64 GB 910B parts) + ~2 GiB HCCL buffers (HCCL_BUFFSIZE 200 MB, two per communicator, about five communicators)',
      confidence: 'assumed',
    },
    ...(a.activationMemoryFactor !== undefined ? { activationMemoryFactor: whatIf(a.activationMemoryFactor) } : {}),
    chipEfficiency: {
      ...chip,
      name: 'ascend-910b-fitted',
      description: `${chip.description} effMax refitted to the ULT-T1 end-to-end throughput and MFU by tools/calibrate/fit-sim-profile.ts.`,
      matmul: {
        ...chip.matmul,
        ...(a.w0Scale !== undefined ? { w0Flops: whatIf(chip.matmul.w0Flops.value * a.w0Scale) } : {}),
        ...(a.alpha !== undefined ? { alpha: whatIf(a.alpha) } : {}),
        effMax: { value: effMax, source: `${FIT_SOURCE}: ULT-T1 tokens/s and MFU`, confidence: 'measured' },
      },
    },
  };
}

/** Mean relative error of a case's tokens/s and MFU against the published figures (0 = centred). */
function meanError(c: TrainingCase, p: SimProfile): number {
  const r = runCase(c, { profileData: p });
  const pub = PUBLISHED[c.id as 'ULT-T1' | 'ULT-T0'];
  return (r.tokensPerSecond / pub.tokensPerSecond - 1 + (r.mfu / pub.mfu - 1)) / 2;
}

/** Root of a monotone function on [lo, hi] by bisection; the closer end when there is none inside. */
function bisect(f: (x: number) => number, lo: number, hi: number, increasing: boolean): number {
  const sign = increasing ? 1 : -1;
  if (sign * f(lo) >= 0) return lo;
  if (sign * f(hi) <= 0) return hi;
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (sign * f(mid) < 0) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Fits effMax to ULT-T1 and the top-k skew to ULT-T0 under the given assumptions (values rounded to 4 places). */
export function fitAscend910bProfile(assumptions: FitAssumptions = {}): ProfileFit {
  let effMax = base.chipEfficiency?.matmul.effMax.value ?? chip.matmul.effMax.value;
  let zipf = base.topKZipfExponent.value;
  for (let round = 0; round < ROUNDS; round++) {
    // Throughput rises with effMax and falls with the skew.
    effMax = bisect((e) => meanError(ULT_T1, profileWith(e, zipf, assumptions)), EFF[0], EFF[1], true);
    zipf = bisect((z) => meanError(ULT_T0, profileWith(effMax, z, assumptions)), ZIPF[0], ZIPF[1], false);
  }
  effMax = Number(effMax.toFixed(4));
  zipf = Number(zipf.toFixed(4));
  return {
    effMax,
    topKZipfExponent: zipf,
    profile: {
      ...profileWith(effMax, zipf, assumptions),
      description:
        "Atlas 800T A2 (Ascend 910B) training at scale: ascend-hal's ascend-910b operator profile with its matmul saturation efficiency (effMax) fitted to ULT-T1 and the top-k popularity skew fitted to ULT-T0; overlap efficiency, step overhead and memory reserve assumed.",
      fittedTo: (['ULT-T1', 'ULT-T0'] as const).flatMap((id) => [
        { case: id, figure: 'tokens/s', value: PUBLISHED[id].tokensPerSecond, source: PUBLISHED[id].source },
        { case: id, figure: 'MFU', value: PUBLISHED[id].mfu, source: PUBLISHED[id].source },
      ]),
      method: `alternating bisections: chipEfficiency.matmul.effMax on [${EFF.join(', ')}] until ULT-T1's tokens/s and MFU errors average zero; topKZipfExponent on [${ZIPF.join(', ')}] until ULT-T0's do (${ROUNDS} rounds). Run: npx tsx --conditions=@moge/source tools/calibrate/fit-sim-profile.ts --write`,
    },
  };
}
