/**
 * Refits profiles/nvidia-h200.json to the operator microbenchmarks measured on one H200
 * (tools/calibrate/data/h200-ops.json, written by tools/calibrate/h200_ops.py). Prints the fit and
 * its error per GEMM row class; `--write` replaces the profile (temp file + rename).
 *
 *   npx tsx --conditions=@moge/source scripts/fit-h200-profile.ts [--write]
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { estimateOpTime, findChip, fitProfileFromOpsBench, getEfficiencyProfile } from '@moge/ascend-hal';

const FILE_LABEL = 'tools/calibrate/data/h200-ops.json';
const dataPath = fileURLToPath(new URL(`../../../${FILE_LABEL}`, import.meta.url));
const profilePath = fileURLToPath(new URL('../profiles/nvidia-h200.json', import.meta.url));

const chip = findChip('nvidia-h200')!;
const profile = fitProfileFromOpsBench(JSON.parse(readFileSync(dataPath, 'utf8')), {
  chip,
  base: getEfficiencyProfile('nvidia-h200'),
  fileLabel: FILE_LABEL,
});

console.log(profile.description);
console.log(
  `effMax ${profile.matmul.effMax.value.toFixed(4)}  w0Flops ${profile.matmul.w0Flops.value.toExponential(3)}  alpha ${profile.matmul.alpha.value.toFixed(4)}`,
);
console.log(
  `launchOverheadS ${(profile.launchOverheadS.value * 1e6).toFixed(2)} µs  hbmEfficiency ${profile.hbmEfficiency.value.toFixed(3)}  attentionEfficiency ${profile.attentionEfficiency.value.toFixed(3)}`,
);
const errors = profile.measurements!.matmul.map((r) => {
  const t = estimateOpTime(
    chip,
    { kind: 'matmul', m: r.m, k: r.k, n: r.n, dtype: r.dtype },
    { profile },
  ).timeS;
  return { r, err: t / r.timeS - 1 };
});
const worst = [...errors].sort((a, b) => Math.abs(b.err) - Math.abs(a.err)).slice(0, 8);
const within = (x: number) => errors.filter((e) => Math.abs(e.err) <= x).length;
console.log(
  `GEMM rows within 10 %: ${within(0.1)}/${errors.length}, within 25 %: ${within(0.25)}/${errors.length}`,
);
for (const { r, err } of worst) console.log(`  ${r.m}×${r.k}×${r.n}: ${(err * 100).toFixed(1)} %`);

if (process.argv.includes('--write')) {
  // One measurement row per line: 167 rows stay readable and diffs stay small.
  const text = JSON.stringify(profile, null, 2).replace(/\{\n\s+"m": [^{}]*?\n\s+\}/g, (row) =>
    JSON.stringify(JSON.parse(row)),
  );
  writeFileSync(`${profilePath}.tmp`, `${text}\n`);
  renameSync(`${profilePath}.tmp`, profilePath);
  console.log(`wrote ${profilePath}`);
}
