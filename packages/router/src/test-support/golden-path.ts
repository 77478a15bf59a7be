import { join } from 'node:path';
import { sharedDir } from '../../../../tools/test/shared-dir';

/** A file of the shared golden vectors, read in place (never copied): `<shared>/golden/<name>`. Tests only (Node APIs). */
export function goldenPath(name: string): string {
  return join(sharedDir(), 'golden', name);
}
