#!/usr/bin/env node
/**
 * Compiles native/*.c (SOURCES) into one library in native/build/ (the package's `install` script). Optional by
 * design, like koffi and OpenBLAS: without a C compiler, on Windows, or with MOGE_SKIP_NATIVE_BUILD=1,
 * it says why in one line and exits 0, and one-row products stay on OpenBLAS. No -march=native: the
 * library must run on any CPU of this architecture (an image built on one host runs on others).
 * The output is written under a temporary name and renamed, so a failed or interrupted build never
 * leaves a half-written library for the loader to find.
 *   node scripts/build-native.mjs   (CC picks the compiler; default cc)
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// Every C file of native/, listed so that a stray file there is never compiled in.
const SOURCES = ['abi.c', 'one-row-products.c', 'vector-kernels.c', 'data-movement.c'];
const sources = SOURCES.map((file) => join(root, 'native', file));
const outDir = join(root, 'native', 'build');
// Kept in step with libraryFileName() in src/backend/native/native-kernels.ts.
const fileName = process.platform === 'darwin' ? 'libmoge_kernels.dylib' : 'libmoge_kernels.so';

function skip(why) {
  console.log(`@moge/ascend-hal: native kernels not built (${why}); one-row products use OpenBLAS.`);
  process.exit(0);
}

if (process.env.MOGE_SKIP_NATIVE_BUILD === '1') skip('MOGE_SKIP_NATIVE_BUILD=1');
if (process.platform === 'win32') skip('no build recipe for Windows');
const compiler = process.env.CC || 'cc';
mkdirSync(outDir, { recursive: true });
const target = join(outDir, fileName);
const temporary = `${target}.${process.pid}.tmp`;
// -fno-math-errno: sqrt compiles to the instruction, with no call into libm (which the library does not link).
const result = spawnSync(compiler, ['-O3', '-std=gnu11', '-fno-math-errno', '-fPIC', '-shared', ...sources, '-o', temporary], { encoding: 'utf8' });
if (result.error || result.status !== 0) {
  rmSync(temporary, { force: true });
  const detail = result.error ? result.error.message : (result.stderr || `exit ${result.status}`).trim().split('\n')[0];
  skip(`${compiler} failed: ${detail}`);
}
renameSync(temporary, target);
console.log(`@moge/ascend-hal: built ${target}`);
