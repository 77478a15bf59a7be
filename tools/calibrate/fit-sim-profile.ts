/**
 * Fits packages/sim/profiles/ascend-910b-training.json. No kernel of the 910B has been timed here, so
 * ascend-hal's 910B operator profile is the H200 fit transferred (assumed). The one free parameter is
 * the saturation efficiency of the 910B matrix unit (effMax of that curve, its shape kept), chosen so
 * the simulator reproduces ULT-T1's published throughput (1.46 M tokens/s). Every other figure
 * (ULT-T0, PRO-T1, the MFU rows) is then a prediction.
 *
 *   npx tsx --conditions=source tools/calibrate/fit-sim-profile.ts [--write]
 */
import { writeFileSync, renameSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { getEfficiencyProfile } from '@moge/ascend-hal';
import { getSimProfile, runCase, ULT_T1, PUBLISHED, validateTraining, type SimProfile } from '@moge/sim';

const base = getSimProfile('uncalibrated');
const chip = getEfficiencyProfile('ascend-910b');
const target = PUBLISHED['ULT-T1'].tokensPerSecond;
const withEta = (effMax: number): SimProfile => ({
  ...base,
  name: 'ascend-910b-training',
  chipEfficiency: {
    ...chip,
    name: 'ascend-910b-fitted-ult-t1',
    description: `${chip.description} effMax refitted to the ULT-T1 end-to-end throughput by tools/calibrate/fit-sim-profile.ts.`,
    matmul: { ...chip.matmul, effMax: { value: effMax, source: 'fitted: ULT-T1 tokens/s (tools/calibrate/fit-sim-profile.ts)', confidence: 'measured' } },
  },
});
const throughput = (effMax: number) => runCase(ULT_T1, { profileData: withEta(effMax) }).tokensPerSecond;

// Throughput rises with effMax; bisect on [0.2, 1] (or take the end that is closest).
const LO = 0.2;
const HI = 1;
let lo = LO;
let hi = HI;
const tLo = throughput(lo);
const tHi = throughput(hi);
let eta: number;
if (target <= tLo) eta = lo;
else if (target >= tHi) eta = hi;
else {
  for (let i = 0; i < 30; i++) {
    const mid = (lo + hi) / 2;
    if (throughput(mid) < target) lo = mid;
    else hi = mid;
  }
  eta = (lo + hi) / 2;
}
const profile: SimProfile = {
  ...withEta(Number(eta.toFixed(4))),
  description:
    "Atlas 800T A2 (Ascend 910B) training at scale: ascend-hal's ascend-910b operator profile with its matmul saturation efficiency (effMax) fitted to the ULT-T1 throughput; overlap efficiency, step overhead and top-k popularity skew assumed.",
  fittedTo: [{ case: 'ULT-T1', figure: 'tokens/s', value: target, source: PUBLISHED['ULT-T1'].source }],
  method: `bisection of chipEfficiency.matmul.effMax on [0.2, 1] until the simulated ULT-T1 tokens/s equals the published one (throughput at effMax ${LO}: ${tLo.toFixed(0)}, at ${HI}: ${tHi.toFixed(0)})`,
};
console.log(`effMax = ${profile.chipEfficiency!.matmul.effMax.value}`);
for (const r of validateTraining({ profileData: profile })) {
  console.log(`${r.id.padEnd(8)} ${r.metric.padEnd(18)} published ${r.published.toPrecision(4)} predicted ${r.predicted.toPrecision(4)} error ${r.errorKind === 'points' ? `${r.error.toFixed(1)} pt` : `${(r.error * 100).toFixed(1)} %`}`);
}
if (process.argv.includes('--write')) {
  const path = fileURLToPath(new URL('../../packages/sim/profiles/ascend-910b-training.json', import.meta.url));
  writeFileSync(`${path}.tmp`, `${JSON.stringify(profile, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
  console.log(`wrote ${path}`);
}
