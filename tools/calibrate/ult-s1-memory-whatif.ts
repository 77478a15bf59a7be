/**
 * Would tighter memory make Pangu Ultra's PP16 plan win? ULT-S1 with the calibrated Atlas 800T A2
 * profile and its activation memory scaled (the profile's `activationMemoryFactor`, i.e. @moge/memory's
 * `activationOverheadFactor`), every plan's recompute and swap re-chosen by the search under it.
 *
 * Why ask: Pangu Ultra ran its PP16 × VPP2 plan (micro-batch 2) with fine recompute *and* activation
 * swapping, while @moge/memory estimates that plan at ~46 GiB of 64 with fine recompute alone — so
 * the real activations may be larger than the tensor-by-tensor count, and larger activations hurt
 * plans with more weights per device (fewer stages) first. A what-if, not a fit: the profile is not
 * changed. Prints, per factor, the rank of Pangu Ultra's layout, the search's best plan and the
 * peak memory of the ULT-T1 plan with its stated recompute.
 *
 *   npx tsx --conditions=@moge/source tools/calibrate/ult-s1-memory-whatif.ts [1 1.3 1.6 2]
 */
import { getSimProfile, runCase, searchRankRow, ULT_T1, type SimProfile } from '@moge/sim';

const factors = process.argv.slice(2).map(Number);
if (factors.some((f) => !(f >= 1))) throw new Error(`factors: got "${process.argv.slice(2).join(' ')}", expected numbers ≥ 1`);
const base = getSimProfile('ascend-910b-training');
const GiB = 2 ** 30;

process.stdout.write('activation factor   rank of TP8 PP16 VPP2 EP4   search best                         ULT-T1 peak (GiB of 64)\n');
for (const factor of factors.length ? factors : [1, 1.3, 1.6, 2]) {
  const profile: SimProfile = {
    ...base,
    name: `${base.name}-act-${String(factor).replace('.', '-')}`,
    activationMemoryFactor: { value: factor, source: 'what-if', confidence: 'assumed' },
  };
  const row = searchRankRow({ profileData: profile });
  const best = row.assumed.find((a) => a.startsWith("search's best"))?.replace("search's best: ", '') ?? 'none fits';
  const t1 = runCase(ULT_T1, { profileData: profile });
  process.stdout.write(`${factor.toFixed(2).padStart(17)}   ${`#${row.predicted}`.padStart(25)}   ${best.padEnd(34)}  ${(t1.peakMemoryBytesPerDevice / GiB).toFixed(1).padStart(10)}\n`);
}
