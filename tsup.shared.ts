import { defineConfig, type Options } from 'tsup';

/** One build recipe for every package: ESM + CJS + .d.ts, one entry per public module. */
export function packageBuild(entry: Record<string, string>, extra: Partial<Options> = {}) {
  return defineConfig({
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    splitting: false,
    treeshake: true,
    ...extra,
  });
}
