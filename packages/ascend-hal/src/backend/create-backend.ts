import { parseWith } from '@moge/core';
import { z } from 'zod';
import type { Backend } from './backend';
import { OnnxBackendOptionsSchema, createOnnxBackend, type OnnxBackendOptions } from './onnxruntime/onnx-backend';
import { createReferenceBackend } from './reference/reference-backend';

export const BackendNameSchema = z.enum(['reference', 'onnxruntime']);
export type BackendName = z.infer<typeof BackendNameSchema>;

/**
 * Makes a backend by registry name (what a CLI flag or a config file carries). Options are those of
 * the onnxruntime backend and are validated whichever backend is named, so a misspelt option is
 * caught before a run depends on it; the reference backend is single-threaded plain TypeScript and
 * uses none of them (a CLI can pass its `--threads` to either backend).
 */
export function createBackend(name: BackendName, options: OnnxBackendOptions = {}): Backend {
  const which = parseWith(BackendNameSchema, name, 'backend name');
  const parsed = parseWith(OnnxBackendOptionsSchema, options, 'backend options');
  if (which === 'reference') return createReferenceBackend();
  return createOnnxBackend(parsed);
}
