/**
 * Which assumptions would make Pangu Ultra's PP16 plan win? ULT-S1 (the search's rank of TP8 PP16 VPP2
 * EP4 on 6K Atlas 800T A2 NPUs; goal top 5) under two kinds of what-if, each combination with the
 * profile refitted to ULT-T1 and ULT-T0 exactly as `fit-sim-profile.ts` fits it (so every row still
 * matches the published throughput), every plan's recompute and swap re-chosen by the search:
 *
 * - the activation memory factor (the profile's `activationMemoryFactor`, i.e. @moge/memory's
 *   `activationOverheadFactor`). Why ask: Pangu Ultra ran its PP16 × VPP2 plan (micro-batch 2) with
 *   fine recompute *and* activation swapping, while @moge/memory puts that plan at ~46 GiB of 64 with
 *   fine recompute alone — real activations may exceed the tensor-by-tensor count, and larger
 *   activations hurt plans with more weights per device (fewer stages) first;
 * - the shape of the 910B matmul efficiency curve (`w0Flops` scaled, `alpha` replaced). Why ask: no
 *   910B kernel has been timed here, the shape is the H200 fit transferred; a curve that saturates
 *   later makes the small expert GEMMs dearer against the loss stage's big vocabulary GEMMs, which is
 *   what unbalances PP16's stages.
 *
 * A what-if, not a fit of ULT-S1: the stored profile is not changed. Prints, per combination, the
 * refitted effMax, the rank of Pangu Ultra's layout, the search's best plan, and the ULT-T1 plan's peak
 * memory (over 64 GiB = that plan needs the swap the paper used).
 *
 *   npx tsx --conditions=@moge/source tools/calibrate/ult-s1-whatif.ts [--activation 1,1.3,1.6,2] [--w0-scale 1] [--alpha <stored>]
 */
import { parseArgs } from 'node:util';
import { runCase, searchRankRow, ULT_T1 } from '@moge/sim';
import { fitAscend910bProfile } from './ultra-profile-fit';

const { values } = parseArgs({
  options: { activation: { type: 'string', default: '1,1.3,1.6,2' }, 'w0-scale': { type: 'string', default: '1' }, alpha: { type: 'string' } },
});
function numbers(flag: string, text: string | undefined, valid: (x: number) => boolean, expected: string): (number | undefined)[] {
  if (text === undefined) return [undefined];
  const xs = text.split(',').map(Number);
  if (!xs.every(valid)) throw new Error(`--${flag}: got "${text}", expected comma-separated ${expected}`);
  return xs;
}
const activations = numbers('activation', values.activation, (x) => x >= 1, 'numbers ≥ 1');
const w0Scales = numbers('w0-scale', values['w0-scale'], (x) => x > 0, 'numbers > 0');
const alphas = numbers('alpha', values.alpha, (x) => x > 0, 'numbers > 0');
const GiB = 2 ** 30;

process.stdout.write('activation  w0 scale  alpha   effMax  rank of TP8 PP16 VPP2 EP4  search best                         ULT-T1 peak (GiB of 64)\n');
for (const w0Scale of w0Scales)
  for (const alpha of alphas)
    for (const activationMemoryFactor of activations) {
      const { effMax, profile } = fitAscend910bProfile({ w0Scale, alpha, activationMemoryFactor });
      const row = searchRankRow({ profileData: profile });
      const best = row.assumed.find((a) => a.startsWith("search's best"))?.replace("search's best: ", '') ?? 'none fits';
      const t1 = runCase(ULT_T1, { profileData: profile });
      const shownAlpha = profile.chipEfficiency!.matmul.alpha.value;
      process.stdout.write(
        `${(activationMemoryFactor ?? 1).toFixed(2).padStart(10)}  ${String(w0Scale ?? 1).padStart(8)}  ${shownAlpha.toFixed(3)}  ${effMax.toFixed(4)}  ${`#${row.predicted}`.padStart(25)}  ${best.padEnd(34)}  ${(t1.peakMemoryBytesPerDevice / GiB).toFixed(1).padStart(10)}\n`,
      );
    }
