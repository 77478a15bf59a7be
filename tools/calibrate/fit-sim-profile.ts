/**
 * Fits packages/sim/profiles/ascend-910b-training.json (the fit itself, and what it pins with which
 * published case, is in `ultra-profile-fit.ts`) and prints every validation row under it; `--write`
 * stores it.
 *
 *   npx tsx --conditions=@moge/source tools/calibrate/fit-sim-profile.ts [--write]
 */
import { renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { validateTraining } from '@moge/sim';
import { fitAscend910bProfile } from './ultra-profile-fit';

const { effMax, topKZipfExponent: zipf, profile } = fitAscend910bProfile();
console.log(`effMax = ${effMax}, topKZipfExponent = ${zipf}`);
for (const r of validateTraining({ profileData: profile })) {
  const error = r.errorKind === 'rank' ? `rank ${r.predicted} (goal top ${r.published})` : r.errorKind === 'points' ? `${r.error.toFixed(1)} pt` : `${(r.error * 100).toFixed(1)} %`;
  console.log(`${r.id.padEnd(8)} ${r.metric.padEnd(18)} published ${r.published.toPrecision(4)} predicted ${r.predicted.toPrecision(4)} error ${error}`);
}
if (process.argv.includes('--write')) {
  const path = fileURLToPath(new URL('../../packages/sim/profiles/ascend-910b-training.json', import.meta.url));
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(profile, null, 2)}\n`);
  renameSync(tmp, path);
  console.log(`wrote ${path}`);
}
