import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { MogeError } from '@moge/core';
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
 * Throws when `path`, a file about to be replaced by rename, is a directory. Checked before writing:
 * the rename would fail only after the whole temp file was written, naming the temp file.
 */
export function refuseDirectoryTarget(path: string): void {
  if (statSync(path, { throwIfNoEntry: false })?.isDirectory()) throw new MogeError('E_WRITE', `${path}: is a directory; give a file path to write`);
}

/**
 * Writes a file so that readers and crashes (SIGKILL, power loss) see the old contents or the new,
 * never half a file: a temp file in the same folder, fsync, rename over the target, fsync the folder.
 * The one atomic writer of the workspace: checkpoints, metrics, CLI outputs.
 */
export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  refuseDirectoryTarget(path);
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
