import { realpathSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, isAbsolute, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { firstLine } from '../backend/host/koffi';

/** A place a package is resolved from: a file whose directory the node_modules lookup starts at. */
export interface PeerPlace {
  /** What the place is, for error messages ("@moge/ascend-hal", "the program", "the working directory"). */
  what: string;
  file: string;
}

/**
 * Where an optional peer dependency (onnxruntime-node, tsx) is looked for, in order.
 *
 * First beside `own` (this package), as Node resolves any import. Then from the running program's
 * main file and from the working directory: a peer is installed by the application, and the
 * application's node_modules is not always above ours — `npm i -g` of @moge/cli and
 * @moge/ascend-hal as separate packages gives each its own tree, with onnxruntime-node under the
 * cli's only. The main file is followed through symlinks, because a global bin is a link in
 * <prefix>/bin, nowhere near a node_modules. (In a worker thread `process.argv[1]` is the worker's
 * entry file, which serves as well.) Places in one directory are listed once.
 */
export function peerSearchPlaces(own: string | URL, mainFile: string | undefined = process.argv[1], cwd: string = process.cwd()): PeerPlace[] {
  const places: PeerPlace[] = [{ what: '@moge/ascend-hal', file: fileURLToPath(own) }];
  if (mainFile && isAbsolute(mainFile)) {
    try {
      places.push({ what: 'the program', file: realpathSync(mainFile) });
    } catch {
      // Not a file (an eval'd worker, a deleted script): nothing to resolve from.
    }
  }
  // createRequire wants a file name; the file itself need not exist.
  places.push({ what: 'the working directory', file: join(cwd, 'noop.js') });
  const seen = new Set<string>();
  return places.filter((p) => !seen.has(dirname(p.file)) && seen.add(dirname(p.file)));
}

export type PeerLoad<T> = { ok: true; value: T; from: PeerPlace } | { ok: false; reason: string; tried: PeerPlace[] };

/**
 * `load` run with a `require` rooted at each place in turn; the first that returns wins. When none
 * does, `reason` is the first error that is not a plain "not found" (a copy that was found but
 * failed to load says more), else the first error.
 */
export function requireFromFirst<T>(places: readonly PeerPlace[], load: (require: NodeJS.Require) => T): PeerLoad<T> {
  const errors: unknown[] = [];
  for (const place of places) {
    try {
      return { ok: true, value: load(createRequire(place.file)), from: place };
    } catch (e) {
      errors.push(e);
    }
  }
  const telling = errors.find((e) => (e as { code?: unknown }).code !== 'MODULE_NOT_FOUND') ?? errors[0];
  return { ok: false, reason: firstLine(telling), tried: [...places] };
}

/** "@moge/ascend-hal (/a/b), the program (/c/d)" — the directories the lookup started at. */
export function describePlaces(places: readonly PeerPlace[]): string {
  return places.map((p) => `${p.what} (${dirname(p.file)})`).join(', ');
}
