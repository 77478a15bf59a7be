import { spawn } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const cliRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

describe('the moge binary', () => {
  it('ends quietly with status 0 when the reader closes its output early (moge … | head)', async () => {
    // The reader is gone before moge writes anything: its first write meets a closed pipe.
    const child = spawn(process.execPath, ['--import', 'tsx', '--conditions=@moge/source', join(cliRoot, 'src', 'bin.ts'), 'hw', 'list'], { cwd: cliRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.destroy();
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const code = await new Promise<number | null>((done) => child.on('exit', (c) => done(c)));
    expect(err).not.toMatch(/EPIPE|Unhandled|at /);
    expect(code).toBe(0);
  });
});
