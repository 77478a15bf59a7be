import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** fsyncs a file or a directory (on Linux a directory fd can be fsync'd to persist a rename). */
export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a file so that readers and crashes (SIGKILL, power loss) see the old contents or the new,
 * never half a file: a temp file in the same folder, fsync, rename over the target, fsync the folder.
 * The one atomic writer of the workspace: checkpoints, metrics, CLI outputs.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  try {
    writeFileSync(tmp, data);
    fsyncPath(tmp);
    renameSync(tmp, path);
    fsyncPath(dir);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
