import { readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fsyncPath, writeFileAtomic } from '@moge/model/node';

/**
 * Durable file operations: data is fsync'd before a rename publishes it, and the directory after,
 * so that after a crash (SIGKILL, power loss) a name points at complete data or at the old data.
 * Small files go through the workspace's one atomic writer (temp, fsync, rename, fsync dir).
 */
export { fsyncPath, writeFileAtomic as writeFileDurable };

/** fsyncs every file of a directory tree, then the directories themselves. */
export function fsyncTree(dir: string): void {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) fsyncTree(p);
    else fsyncPath(p);
  }
  fsyncPath(dir);
}

/** Publishes a finished directory under its final name (replacing an older one of that name). */
export function publishDir(tmpDir: string, finalDir: string): void {
  fsyncTree(tmpDir);
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(tmpDir, finalDir);
  fsyncPath(dirname(finalDir));
}
