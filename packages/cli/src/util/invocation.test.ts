import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mogeCommand } from './invocation';

describe('mogeCommand', () => {
  const repo = mkdtempSync(join(tmpdir(), 'moge-invocation-'));
  writeFileSync(join(repo, 'package.json'), JSON.stringify({ scripts: { moge: 'node packages/cli/dist/bin.js' } }));
  const project = mkdtempSync(join(tmpdir(), 'moge-invocation-'));
  writeFileSync(join(project, 'package.json'), JSON.stringify({ dependencies: { '@moge/cli': '0.1.0' } }));

  it('repeats how moge was started: npx, a project\'s moge script, or the command itself', () => {
    expect(mogeCommand({ npm_lifecycle_event: 'npx' }, project)).toBe('npx moge');
    expect(mogeCommand({ npm_lifecycle_event: 'start' }, repo)).toBe('npm run moge --');
    // An npm script of a project without a `moge` script (e.g. its own "train" script): plain moge.
    expect(mogeCommand({ npm_lifecycle_event: 'train' }, project)).toBe('moge');
    expect(mogeCommand({}, repo)).toBe('moge');
  });
});
