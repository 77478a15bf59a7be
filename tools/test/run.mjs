#!/usr/bin/env node
// The one test command (README, CI): typecheck, lint and every package's vitest suite through Nx, then one
// closing line 'N passed, N failed' summed over all packages' JSON reports.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const packagesDir = join(root, 'packages');
const packages = readdirSync(packagesDir).filter((p) => existsSync(join(packagesDir, p, 'package.json')));
for (const p of packages) rmSync(join(packagesDir, p, 'test-results.json'), { force: true });

const targets = process.argv.includes('--only-tests') ? 'test' : 'typecheck,lint,test';
const nx = spawnSync(
  'npx',
  ['nx', 'run-many', '-t', targets, '--parallel=1', '--outputStyle=static', '--skipNxCache'],
  { cwd: root, stdio: 'inherit', env: { ...process.env, NX_DAEMON: 'false', NX_NO_CLOUD: 'true' } },
);

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
for (const p of packages) {
  const file = join(packagesDir, p, 'test-results.json');
  if (!existsSync(file)) {
    missing.push(p);
    continue;
  }
  const report = JSON.parse(readFileSync(file, 'utf8'));
  passed += report.numPassedTests ?? 0;
  failed += report.numFailedTests ?? 0;
  skipped += (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
}
if (missing.length) console.log(`no test report from: ${missing.join(', ')}`);
const nxFailed = nx.status !== 0;
if (nxFailed && failed === 0) failed = 1; // typecheck or lint failed, or a suite crashed before reporting
console.log(`tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(nxFailed || failed > 0 ? 1 : 0);
