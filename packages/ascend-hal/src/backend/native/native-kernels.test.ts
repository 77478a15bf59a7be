import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { jsSgemm } from '../blas/js-blas.test-support';
import { offsetsOf } from '../conformance/case-builder';
import { libraryFileName, loadNativeKernels, NATIVE_KERNELS_ABI, openNativeKernels, type NativeKernels } from './native-kernels';
import { describeOverNativeKernels, expectCloseArrays, expectGroupedLikeJs, sinValues, viewAt } from './native-kernels.test-support';

// Whether this machine has the C compiler the install script uses by default.
const cc = spawnSync('cc', ['--version']);
const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const shapes = fc.record({
  outer: fc.integer({ min: 1, max: 37 }),
  inner: fc.integer({ min: 1, max: 37 }),
  pad: fc.nat(5),
  alpha: fc.constantFrom(1, -0.5, 2),
  beta: fc.constantFrom(0, 1, 0.25),
  offset: fc.nat(3),
  salt: fc.nat(100),
});

/**
 * The two kernels over W (outer × inner, row stride ldw): gemvRows reads W as op(B) = Wᵀ of a [1, inner]
 * row (y has `outer` values), gemvColumns as op(B) = W of a [1, outer] row (y has `inner`).
 */
const VARIANTS = [
  { kernel: 'gemvRows', law: 'y = α·W·x + β·y', transB: true, lengths: (outer: number, inner: number) => ({ x: inner, y: outer }) },
  { kernel: 'gemvColumns', law: 'y = α·Wᵀ·x + β·y', transB: false, lengths: (outer: number, inner: number) => ({ x: outer, y: inner }) },
] as const;

function contract(kernels: NativeKernels): void {
  for (const { kernel, law, transB, lengths } of VARIANTS) {
    it(`${kernel}: ${law} for any shapes (remainders of 4 included), row stride and views (property)`, () => {
      fc.assert(
        fc.property(shapes, ({ outer, inner, pad, alpha, beta, offset, salt }) => {
          const ldw = inner + pad;
          const { x: xLength, y: yLength } = lengths(outer, inner);
          const w = viewAt(sinValues(outer * ldw, salt), offset);
          const x = viewAt(sinValues(xLength, salt + 1), offset);
          const y0 = sinValues(yLength, salt + 2);
          const want = y0.slice();
          jsSgemm(false, transB, 1, yLength, xLength, alpha, x, xLength, w, ldw, beta, want, yLength);
          // β = 0 never reads y: NaN there must not leak into the result.
          const got = viewAt(beta === 0 ? new Float32Array(yLength).fill(Number.NaN) : y0, offset);
          kernels[kernel](outer, inner, alpha, w, ldw, x, beta, got);
          expectCloseArrays(got, want);
        }),
        { numRuns: 300 },
      );
    });
  }

  it('gemvRowsGrouped: each group with a row gets W_g·x for that row, whatever groups are empty (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { minLength: 1, maxLength: 20 }), fc.integer({ min: 1, max: 37 }), fc.integer({ min: 1, max: 37 }), fc.nat(100), (hasRow, n, k, salt) =>
        expectGroupedLikeJs(kernels, 'gemvRowsGrouped', offsetsOf(hasRow.map(Number)), n, k, salt, true),
      ),
      { numRuns: 300 },
    );
  });

  it('gemvRowsGrouped at decode size: 4 of 16 experts of 256 × 256, prefetching from one active expert into the next', () => {
    expectGroupedLikeJs(kernels, 'gemvRowsGrouped', Int32Array.from([0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4]), 256, 256, 9, false);
  });

  it('streams a decode-sized matrix (4096 × 256, past the prefetch distance) to the same sums', () => {
    const [rows, k] = [4096, 256];
    const w = sinValues(rows * k, 7);
    const x = sinValues(k, 8);
    const [want, got] = [new Float32Array(rows), new Float32Array(rows)];
    jsSgemm(false, true, 1, rows, k, 1, x, k, w, k, 0, want, rows);
    kernels.gemvRows(rows, k, 1, w, k, x, 0, got);
    expectCloseArrays(got, want);
  });
}

describeOverNativeKernels(loadNativeKernels(), 'one-row products', contract);

describe('openNativeKernels', () => {
  it('is off with MOGE_NATIVE_KERNELS=0', () => {
    expect(openNativeKernels('0')).toEqual({ ok: false, reason: 'turned off by MOGE_NATIVE_KERNELS=0' });
  });

  it('names a missing library and how to build it', () => {
    const load = openNativeKernels('/nonexistent/libmoge_kernels.so');
    expect(load.ok).toBe(false);
    expect(!load.ok && load.reason).toMatch(/\/nonexistent\/libmoge_kernels\.so not found.*build-native\.mjs/);
  });

  it('looks for the library the install script writes, under native/build/', () => {
    const load = openNativeKernels(undefined);
    const path = join(packageRoot, 'native', 'build', libraryFileName());
    if (load.ok) expect(load.kernels.library).toBe(path);
    else expect(load.reason).toContain(path);
    expect(libraryFileName('darwin')).toBe('libmoge_kernels.dylib');
    expect(libraryFileName('linux')).toBe('libmoge_kernels.so');
  });

  it('is built and loads wherever a C compiler is present (the install script ran), so the suites over it never skip there', () => {
    const load = openNativeKernels(undefined);
    if (cc.status === 0 && process.platform !== 'win32') expect(load.ok ? 'loaded' : load.reason).toBe('loaded');
    else expect(!load.ok && load.reason).toMatch(/not found|did not load/);
  });

  it.skipIf(cc.status !== 0)('refuses a library built from other sources (another ABI), naming the fix', () => {
    const dir = mkdtempSync(join(tmpdir(), 'moge-abi-'));
    try {
      writeFileSync(join(dir, 'stale.c'), `int moge_kernels_abi(void) { return ${NATIVE_KERNELS_ABI + 1}; }\n`);
      const lib = join(dir, 'libstale.so');
      expect(spawnSync('cc', ['-shared', '-fPIC', join(dir, 'stale.c'), '-o', lib]).status).toBe(0);
      const load = openNativeKernels(lib);
      expect(load.ok).toBe(false);
      expect(!load.ok && load.reason).toMatch(new RegExp(`ABI ${NATIVE_KERNELS_ABI + 1}, this package expects ${NATIVE_KERNELS_ABI}.*build-native\\.mjs`));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('scripts/build-native.mjs', () => {
  const script = join(packageRoot, 'scripts', 'build-native.mjs');
  const buildDir = join(packageRoot, 'native', 'build');
  const run = (env: Record<string, string>) => spawnSync(process.execPath, [script], { encoding: 'utf8', env: { ...process.env, ...env } });
  const snapshot = () => (existsSync(buildDir) ? readdirSync(buildDir).map((f) => `${f}:${statSync(join(buildDir, f)).mtimeMs}`) : []);

  it('exits 0 and says why when the compiler fails, leaving the built library as it was and no temporary file', () => {
    const before = snapshot();
    const result = run({ CC: 'false' });
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/native kernels not built \(false failed: .*\); one-row products use OpenBLAS/);
    expect(snapshot()).toEqual(before);
  });

  it('skips on request', () => {
    const result = run({ MOGE_SKIP_NATIVE_BUILD: '1' });
    expect(result.status).toBe(0);
    expect(result.stdout).toContain('not built (MOGE_SKIP_NATIVE_BUILD=1)');
  });
});
