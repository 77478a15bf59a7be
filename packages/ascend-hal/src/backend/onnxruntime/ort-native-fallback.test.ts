import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type * as NodeModule from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// As if onnxruntime-node were not installed beside @moge/ascend-hal (a separate global install),
// while the application that depends on it has it in its own node_modules.
const halDir = dirname(fileURLToPath(import.meta.url)).replace(/src[\\/]backend[\\/]onnxruntime$/, '');
vi.mock('node:module', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeModule>();
  const { requireFindingNothing } = await import('../../peer/require-finding-nothing.test-support');
  return {
    ...actual,
    createRequire: (from: string | URL) => {
      const file = from instanceof URL || from.startsWith('file:') ? fileURLToPath(from) : from;
      if (file.startsWith(halDir)) return requireFindingNothing();
      return actual.createRequire(from);
    },
  };
});

const apps: string[] = [];
/** An application with its own onnxruntime-node (a stand-in of `version`); returns its main file. */
function appWithOnnxRuntime(version: string): string {
  const app = mkdtempSync(join(tmpdir(), 'moge-ort-app-'));
  apps.push(app);
  const dir = join(app, 'node_modules', 'onnxruntime-node');
  mkdirSync(join(dir, 'dist'), { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'onnxruntime-node', version, main: 'dist/index.js' }));
  writeFileSync(join(dir, 'dist', 'index.js'), 'exports.Tensor = class FakeTensor {};');
  writeFileSync(join(dir, 'dist', 'binding.js'), 'exports.binding = { fake: true }; exports.initOrt = () => {};');
  writeFileSync(join(app, 'main.js'), '');
  return join(app, 'main.js');
}
afterAll(() => apps.forEach((app) => rmSync(app, { recursive: true, force: true })));

const argv1 = process.argv[1];
beforeEach(() => vi.resetModules());
afterEach(() => {
  process.argv[1] = argv1!;
});

describe('onnxruntime-node installed by the application, not beside @moge/ascend-hal', () => {
  it('loads from the program', async () => {
    process.argv[1] = appWithOnnxRuntime('1.30.0');
    const { loadOnnxRuntime } = await import('./ort-native');
    expect(loadOnnxRuntime().binding).toEqual({ fake: true });
  });

  it('refuses another release, whose binding layout it does not know, and says where it looked', async () => {
    process.argv[1] = appWithOnnxRuntime('1.22.0');
    const { loadOnnxRuntime } = await import('./ort-native');
    expect(() => loadOnnxRuntime()).toThrow(/did not load \(found onnxruntime-node 1\.22\.0 at .*\)\. Looked from @moge\/ascend-hal \(.*\), the program \(.*moge-ort-app-.*\).*npm install onnxruntime-node@1\.30\.0/);
  });
});
