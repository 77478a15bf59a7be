import { createHash } from 'node:crypto';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { FileFormatError } from '@moge/core';

/** `manifest.json`: size and sha256 of every other file of a checkpoint, checked before a resume. */
export const MANIFEST_FILE = 'manifest.json';

export const ManifestSchema = z.object({
  format: z.literal('moge-checkpoint-manifest'),
  version: z.literal(1),
  files: z.record(z.string(), z.object({ bytes: z.number().int().nonnegative(), sha256: z.string().regex(/^[0-9a-f]{64}$/) })),
});
export type Manifest = z.infer<typeof ManifestSchema>;

export function sha256File(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

export function buildManifest(dir: string): Manifest {
  const files: Manifest['files'] = {};
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (name === MANIFEST_FILE || !statSync(p).isFile()) continue;
    files[name] = { bytes: statSync(p).size, sha256: sha256File(p) };
  }
  return { format: 'moge-checkpoint-manifest', version: 1, files };
}

/** Every problem with a checkpoint directory against its manifest, in words; empty = intact. */
export function checkManifest(dir: string): string[] {
  const path = join(dir, MANIFEST_FILE);
  // A latest.json can outlive its checkpoint (one deleted by hand): say so, not "never completed".
  if (!existsSync(dir)) return ['the checkpoint directory does not exist (deleted?)'];
  if (!existsSync(path)) return [`${MANIFEST_FILE} is missing (the checkpoint was never completed)`];
  let manifest: Manifest;
  try {
    manifest = ManifestSchema.parse(JSON.parse(readFileSync(path, 'utf8')));
  } catch (e) {
    return [`${MANIFEST_FILE} is unreadable: ${(e as Error).message.split('\n')[0]}`];
  }
  const problems: string[] = [];
  for (const [name, want] of Object.entries(manifest.files)) {
    const p = join(dir, name);
    if (!existsSync(p)) {
      problems.push(`${name} is missing`);
      continue;
    }
    const bytes = statSync(p).size;
    if (bytes !== want.bytes) {
      problems.push(`${name} has ${bytes} bytes, the manifest says ${want.bytes}`);
      continue;
    }
    const sha = sha256File(p);
    if (sha !== want.sha256) problems.push(`${name} sha256 ${sha.slice(0, 12)}… does not match the manifest's ${want.sha256.slice(0, 12)}…`);
  }
  return problems;
}

/** Throws a FileFormatError naming every damaged file when the checkpoint is not intact. */
export function verifyManifest(dir: string, hint = ''): void {
  const problems = checkManifest(dir);
  if (problems.length > 0) throw new FileFormatError(dir, `checkpoint is corrupt and was not loaded:\n  - ${problems.join('\n  - ')}${hint ? `\n${hint}` : ''}`);
}
