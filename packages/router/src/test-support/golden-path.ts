import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A file of the shared golden vectors, read in place (never copied): `<repo root>/../shared/golden/<name>`.
 * The repository root is the folder above this file that holds `nx.json`. Tests only (Node APIs).
 */
export function goldenPath(name: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'nx.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('repository root (nx.json) not found above the test file');
    dir = parent;
  }
  return resolve(dir, '..', 'shared', 'golden', name);
}
