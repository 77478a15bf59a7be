import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * How to run `moge` again the way this process was started, for commands printed to copy: `npx moge`
 * when npx started it, `npm run moge --` when an npm script started it in a project that has a `moge`
 * script (this repository's `npm start`), otherwise `moge` (installed globally, or on the PATH).
 */
export function mogeCommand(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const event = env.npm_lifecycle_event;
  if (event === 'npx') return 'npx moge';
  if (event && hasMogeScript(cwd)) return 'npm run moge --';
  return 'moge';
}

function hasMogeScript(dir: string): boolean {
  try {
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { scripts?: Record<string, unknown> };
    return typeof pkg.scripts?.moge === 'string';
  } catch {
    return false;
  }
}
