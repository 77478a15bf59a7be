import { parseWith } from '@moge/core';
import { z } from 'zod';
import type { Backend } from './backend';
import { OnnxBackendOptionsSchema, createOnnxBackend, type OnnxBackendOptions } from './onnxruntime/onnx-backend';
import { createReferenceBackend } from './reference/reference-backend';

export const BackendNameSchema = z.enum(['reference', 'onnxruntime']);
export type BackendName = z.infer<typeof BackendNameSchema>;

/**
 * Makes a backend by registry name (what a CLI flag or a config file carries). Options are those of
 * the onnxruntime backend; the reference backend takes none.
 */
export function createBackend(name: BackendName, options: OnnxBackendOptions = {}): Backend {
  const which = parseWith(BackendNameSchema, name, 'backend name');
  if (which === 'reference') return createReferenceBackend();
  return createOnnxBackend(parseWith(OnnxBackendOptionsSchema, options, 'onnxruntime backend options'));
}
