import type * as NodeModule from 'node:module';
import { describe, expect, it, vi } from 'vitest';

// As if onnxruntime-node (an optional peer dependency) were not installed.
vi.mock('node:module', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeModule>();
  const { requireFindingNothing } = await import('../../peer/require-finding-nothing.test-support');
  return {
    ...actual,
    createRequire: () => requireFindingNothing(),
  };
});

const { loadOnnxRuntime } = await import('./ort-native');
const { createOnnxBackend } = await import('./onnx-backend');

describe('without onnxruntime-node', () => {
  it('names the package, its version and the install command', () => {
    expect(() => loadOnnxRuntime()).toThrow(/needs onnxruntime-node 1\.30\.0, which did not load \(Cannot find module 'onnxruntime-node'\)\..*npm install onnxruntime-node@1\.30\.0/);
  });

  it('fails when the backend is created, with a stable code', () => {
    let error: unknown;
    try {
      createOnnxBackend();
    } catch (e) {
      error = e;
    }
    expect((error as { code?: string }).code).toBe('E_MISSING_DEPENDENCY');
  });
});
