import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What `npm pack` ships for every workspace package, checked without building or installing: the
 * paths package.json promises (exports, bin, main, module, types) are ones its tsup entries write,
 * and every package its published code imports is one npm installs beside it. The cli holds these
 * checks because it is the package that depends on all the others.
 */
const packagesDir = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const packageNames = readdirSync(packagesDir).filter((p) => existsSync(join(packagesDir, p, 'package.json')));

interface Manifest {
  name: string;
  exports?: Record<string, unknown>;
  bin?: Record<string, string>;
  files?: string[];
  main?: string;
  module?: string;
  types?: string;
  typesVersions?: Record<string, Record<string, string[]>>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
}

interface TsupOptions {
  entry: Record<string, string>;
  format: string[];
  dts?: boolean;
}

const manifest = (pkg: string): Manifest => JSON.parse(readFileSync(join(packagesDir, pkg, 'package.json'), 'utf8')) as Manifest;

async function tsupOptions(pkg: string): Promise<TsupOptions> {
  const mod = (await import(join(packagesDir, pkg, 'tsup.config.ts'))) as { default: TsupOptions };
  return mod.default;
}

/** The files tsup writes for these options in a `"type": "module"` package (ESM `.js`, CommonJS `.cjs`). */
function tsupOutputs(options: TsupOptions): Set<string> {
  const out = new Set<string>();
  for (const name of Object.keys(options.entry)) {
    for (const format of options.format) {
      const cjs = format === 'cjs';
      out.add(`./dist/${name}.${cjs ? 'cjs' : 'js'}`);
      if (options.dts) out.add(`./dist/${name}.${cjs ? 'd.cts' : 'd.ts'}`);
    }
  }
  return out;
}

/** Every file path an `exports` value names, with the condition path that leads to it. */
function exportTargets(value: unknown, at: string): { at: string; target: string }[] {
  if (typeof value === 'string') return [{ at, target: value }];
  if (value && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => exportTargets(v, `${at} → ${k}`));
  return [];
}

/** Paths package.json promises to consumers: exports (but the repository-only `@moge/source` sources), bin, main, module, types. */
function promisedPaths(m: Manifest): { at: string; target: string }[] {
  const fromExports = Object.entries(m.exports ?? {})
    .filter(([subpath]) => subpath !== './package.json')
    .flatMap(([subpath, v]) => exportTargets(v, `exports["${subpath}"]`))
    .filter((t) => !t.at.includes('@moge/source'));
  const top = (['main', 'module', 'types'] as const).flatMap((k) => (m[k] ? [{ at: k, target: m[k] }] : []));
  const bins = Object.entries(m.bin ?? {}).map(([name, target]) => ({ at: `bin.${name}`, target }));
  return [...fromExports, ...top, ...bins].map((t) => ({ ...t, target: t.target.startsWith('./') ? t.target : `./${t.target}` }));
}

// `import … from 'x'`, `export … from 'x'`, `import 'x'` and `import('x')`; group 2 marks type-only ones,
// which TypeScript erases. Import clauses hold no parentheses, so a match never runs across a function body.
const IMPORT_RE = /^\s*(import|export)\s+(type\s+)?(?:[^'";()]*?\s+from\s+)?'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm;

function resolveRelative(fromFile: string, spec: string): string | undefined {
  const base = resolve(dirname(fromFile), spec);
  return [base, `${base}.ts`, join(base, 'index.ts')].find((f) => f.endsWith('.ts') && existsSync(f));
}

/** tsup's walk of relative imports from these entries: the source files in the bundle, and the packages they import at run time. */
function bundleOf(pkgDir: string, entries: string[]): { files: string[]; imports: Map<string, string>; otherUses: Set<string> } {
  const imports = new Map<string, string>(); // package name → first file importing it
  // Packages the bundle uses without a run-time import: type-only imports (the published .d.ts keep
  // them) and packages located by name (`require.resolve('x/package.json')`).
  const otherUses = new Set<string>();
  const seen = new Set<string>();
  const queue = entries.map((e) => join(pkgDir, e));
  while (queue.length) {
    const file = queue.pop()!;
    if (seen.has(file)) continue;
    seen.add(file);
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/\brequire(?:\.resolve)?\(\s*'([^'.][^']*)'/g)) otherUses.add(packageName(m[1]!));
    for (const m of text.matchAll(IMPORT_RE)) {
      const spec = (m[3] ?? m[4])!;
      if (m[2]) {
        if (!spec.startsWith('.')) otherUses.add(packageName(spec));
        continue;
      }
      if (spec.startsWith('.')) {
        const next = resolveRelative(file, spec);
        if (next) queue.push(next);
        continue;
      }
      if (spec.startsWith('node:') || builtinModules.includes(spec.split('/')[0]!)) continue;
      const name = packageName(spec);
      if (!imports.has(name)) imports.set(name, relative(pkgDir, file));
    }
  }
  return { files: [...seen], imports, otherUses };
}

/** The package a bare specifier names (`@scope/name/sub` → `@scope/name`, `name/sub` → `name`). */
function packageName(spec: string): string {
  return spec.split('/').slice(0, spec.startsWith('@') ? 2 : 1).join('/');
}

/**
 * Built files the code finds beside itself at run time: `new URL('./x.js', import.meta.url)` (a worker
 * entry, say). Bundled, `import.meta.url` is the dist file's, so `x.js` must be in dist too.
 */
function filesLocatedBesideItself(pkgDir: string, files: string[]): { file: string; target: string }[] {
  return files.flatMap((file) =>
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((line) => line.includes('import.meta.url'))
      .flatMap((line) => [...line.matchAll(/'\.\/([\w.-]+\.c?js)'/g)].map((m) => ({ file: relative(pkgDir, file), target: `./dist/${m[1]}` }))),
  );
}

/** Files under packages/<pkg>/ that a README passes to a `moge` command in its examples. */
function readmeExampleFiles(): { pkg: string; path: string; readme: string }[] {
  const found: { pkg: string; path: string; readme: string }[] = [];
  for (const readme of packageNames) {
    for (const line of readFileSync(join(packagesDir, readme, 'README.md'), 'utf8').split('\n')) {
      if (!/^\s*moge\s/.test(line)) continue;
      for (const m of line.matchAll(/\bpackages\/([a-z-]+)\/(\S+)/g)) found.push({ pkg: m[1]!, path: m[2]!, readme });
    }
  }
  return found;
}

/**
 * Dependencies a package declares without importing them: onnxruntime-node is an optional peer of
 * @moge/ascend-hal (loaded by name at run time), and the cli and the trainer, whose default backend is
 * onnxruntime, declare it so that installing them installs it.
 */
const PEER_SUPPLIERS: Record<string, string[]> = { cli: ['onnxruntime-node'], trainer: ['onnxruntime-node'] };

describe.each(packageNames)('the published @moge/%s', (pkg) => {
  it('names in package.json only files its tsup entries write', async () => {
    const written = tsupOutputs(await tsupOptions(pkg));
    const missing = promisedPaths(manifest(pkg)).filter((t) => !written.has(t.target));
    expect(missing, `tsup writes ${[...written].join(', ')}`).toEqual([]);
  });

  it('gives every subpath export its types under moduleResolution node10 too (typesVersions; node10 reads no exports)', () => {
    const m = manifest(pkg);
    const subpaths = Object.keys(m.exports ?? {}).filter((s) => s !== '.' && s !== './package.json');
    const node10 = Object.fromEntries(subpaths.map((s) => [s.slice(2), m.typesVersions?.['*']?.[s.slice(2)]]));
    // The ESM declaration file, the one the top-level "types" gives node10 for the package root.
    const expected = Object.fromEntries(subpaths.map((s) => [s.slice(2), exportTargets(m.exports![s], '').filter((t) => t.at.endsWith('import → types')).map((t) => t.target)]));
    expect(node10).toEqual(expected);
  });

  it('writes every file its published code locates beside itself through import.meta.url (a worker entry)', async () => {
    const options = await tsupOptions(pkg);
    const written = tsupOutputs(options);
    const pkgDir = join(packagesDir, pkg);
    const located = filesLocatedBesideItself(pkgDir, bundleOf(pkgDir, Object.values(options.entry)).files);
    expect(located.filter((l) => !written.has(l.target))).toEqual([]);
  });

  it('ships what its install scripts run: the script, and the native sources it compiles', () => {
    const m = manifest(pkg) as Manifest & { scripts?: Record<string, string> };
    const shipped = (path: string) => (m.files ?? []).some((f) => path === f || path.startsWith(`${f}/`));
    const lifecycle = ['preinstall', 'install', 'postinstall'].map((s) => m.scripts?.[s]).filter((s): s is string => s !== undefined);
    const scriptFiles = lifecycle.map((command) => /^node (\S+)/.exec(command)?.[1] ?? `(not "node <file>": ${command})`);
    const nativeDir = join(packagesDir, pkg, 'native');
    const sources = existsSync(nativeDir) ? readdirSync(nativeDir).filter((f) => f.endsWith('.c')).map((f) => `native/${f}`) : [];
    if (sources.length > 0) expect(scriptFiles, 'native sources without an install script to build them').not.toEqual([]);
    expect([...scriptFiles, ...sources].filter((f) => !existsSync(join(packagesDir, pkg, f)) || !shipped(f))).toEqual([]);
  });

  it('ships the license text its "license" field names (LICENSE, listed in "files")', () => {
    const m = manifest(pkg) as Manifest & { license?: string };
    expect(m.license, 'package.json "license"').toBe('Apache-2.0');
    expect(m.files, 'package.json "files"').toContain('LICENSE');
    expect(readFileSync(join(packagesDir, pkg, 'LICENSE'), 'utf8')).toMatch(/Apache License\s+Version 2\.0/);
  });

  it('declares every package its published code imports (tsup would bundle a copy of an undeclared one)', async () => {
    const m = manifest(pkg);
    // tsup leaves dependencies and peerDependencies external; anything else it inlines into dist.
    const external = new Set([...Object.keys(m.dependencies ?? {}), ...Object.keys(m.peerDependencies ?? {})]);
    const { imports } = bundleOf(join(packagesDir, pkg), Object.values((await tsupOptions(pkg)).entry));
    const undeclared = [...imports].filter(([name]) => !external.has(name)).map(([name, file]) => `${name} (imported by ${file})`);
    expect(undeclared).toEqual([]);
  });

  it('declares no dependency its published code does not import (an install would fetch it for nothing)', async () => {
    const { imports, otherUses } = bundleOf(join(packagesDir, pkg), Object.values((await tsupOptions(pkg)).entry));
    const unused = Object.keys(manifest(pkg).dependencies ?? {}).filter((name) => !imports.has(name) && !otherUses.has(name) && !PEER_SUPPLIERS[pkg]?.includes(name));
    expect(unused).toEqual([]);
  });
});

describe('README examples', () => {
  it('pass moge only package files that npm pack ships (the package.json "files" list covers them)', () => {
    const examples = readmeExampleFiles();
    const unshipped = examples.filter(({ pkg, path }) => {
      const files = manifest(pkg).files ?? [];
      return !existsSync(join(packagesDir, pkg, path)) || !files.some((f) => path === f || path.startsWith(`${f}/`));
    });
    expect(examples.length).toBeGreaterThan(0);
    expect(unshipped).toEqual([]);
  });
});
