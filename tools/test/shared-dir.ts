import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is tools/test/shared-dir.ts). */
export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

const isSharedDir = (dir: string): boolean => existsSync(join(dir, 'golden')) && existsSync(join(dir, 'reference'));

/**
 * The project's `shared/` folder (golden vectors, reference figures), read in place by tests — never
 * copied. It sits beside the checkout (`../shared`). A fresh clone made elsewhere (CI clones into a
 * temporary folder) finds it beside the checkout it was cloned from, through `remote.origin.url`;
 * `MOGE_SHARED_DIR` overrides both.
 */
export function sharedDir(): string {
  const candidates: string[] = [];
  if (process.env.MOGE_SHARED_DIR) candidates.push(resolve(process.env.MOGE_SHARED_DIR));
  candidates.push(resolve(repoRoot, '..', 'shared'));
  try {
    const origin = execFileSync('git', ['config', '--get', 'remote.origin.url'], { cwd: repoRoot, encoding: 'utf8' }).trim();
    const local = origin.startsWith('file://') ? fileURLToPath(origin) : origin;
    if (isAbsolute(local)) candidates.push(resolve(local, '..', 'shared'));
  } catch {
    // not a clone, or no origin: only the other candidates apply
  }
  const found = candidates.find(isSharedDir);
  if (!found) {
    throw new Error(`the shared folder (golden/, reference/) was not found; looked in: ${candidates.join(', ')}. Set MOGE_SHARED_DIR to its path.`);
  }
  return found;
}
