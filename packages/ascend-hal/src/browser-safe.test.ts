import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The main entry (`@moge/ascend-hal`: catalog, cost models, collectives, the reference backend and
 * the conformance suite) must run in a browser. This walks its static import graph, through
 * @moge/core's sources, and fails on any Node built-in or native package; Node-only code belongs
 * behind `src/node.ts`.
 */
const here = dirname(fileURLToPath(import.meta.url));
const coreSrc = resolve(here, '..', '..', 'core', 'src');
const ALLOWED_PACKAGES = new Set(['zod']);

function specifiers(source: string): string[] {
  const out: string[] = [];
  const patterns = [
    /\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s*'([^']+)'/g,
    /\bimport\s*'([^']+)'/g,
    /\bimport\(\s*'([^']+)'\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) out.push(m[1]!);
  return out;
}

function resolveLocal(from: string, spec: string): string {
  const base = resolve(dirname(from), spec);
  for (const candidate of [base, `${base}.ts`, resolve(base, 'index.ts')]) {
    if (existsSync(candidate) && !candidate.endsWith('/')) {
      if (candidate === base && !/\.(ts|json)$/.test(base)) continue;
      return candidate;
    }
  }
  throw new Error(`cannot resolve ${spec} from ${from}`);
}

/** Every file reachable from `entry`, and every bare package specifier on the way (with who imports it). */
function importGraph(entry: string): { files: Set<string>; packages: Map<string, string> } {
  const files = new Set<string>();
  const packages = new Map<string, string>();
  const queue = [entry];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    if (file.endsWith('.json')) continue;
    // Type-only imports vanish at compile time, so they cannot pull Node into a bundle.
    const code = readFileSync(file, 'utf8').replace(/^\s*(?:import|export)\s+type\s[^;]*;/gms, '');
    for (const spec of specifiers(code)) {
      if (spec.startsWith('.')) queue.push(resolveLocal(file, spec));
      else if (spec === '@moge/core') queue.push(resolve(coreSrc, 'index.ts'));
      else packages.set(spec, relative(here, file));
    }
  }
  return { files, packages };
}

describe('browser safety of the main entry', () => {
  const { files, packages } = importGraph(resolve(here, 'index.ts'));

  it('reaches the reference backend, the catalog and the cost models', () => {
    const names = [...files].map((f) => relative(here, f));
    expect(names).toContain('backend/reference/reference-backend.ts');
    expect(names).toContain('backend/cpu/cpu-backend.ts');
    expect(names).toContain('catalog/nodes.ts');
    expect(names).toContain('cost/estimate-op.ts');
  });

  it('imports no Node built-in and no package but zod', () => {
    const offending = [...packages]
      .filter(([spec]) => !ALLOWED_PACKAGES.has(spec))
      .map(([spec, by]) => `${spec} (imported by ${by})`);
    expect(offending).toEqual([]);
  });

  it('leaves onnxruntime to the node entry', () => {
    const names = [...files].map((f) => relative(here, f));
    expect(
      names.filter((n) => n.includes('onnxruntime') || n.endsWith('node.ts') || n.endsWith('node-index.ts')),
    ).toEqual([]);
    // The node entry reaches the file that loads onnxruntime, and loads it only there, on demand: it is
    // an optional peer dependency, so no module may import it statically.
    const node = importGraph(resolve(here, 'node.ts'));
    expect([...node.files].map((f) => relative(here, f))).toContain(join('backend', 'onnxruntime', 'ort-native.ts'));
    expect(node.packages.has('onnxruntime-node')).toBe(false);
  });
});
