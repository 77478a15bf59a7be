import { describe, expect, it } from 'vitest';
import { workerExecArgv } from './worker-group';

describe('workerExecArgv', () => {
  it('gives TypeScript workers the @moge/source condition when the group runs from the sources, which the repository has', () => {
    expect(workerExecArgv(new URL('./worker-group.ts', import.meta.url).href)).toEqual(['--conditions=@moge/source']);
  });

  it('leaves the flags alone when the group runs from the published dist, which ships no src/ for the condition to lead to', () => {
    expect(workerExecArgv('file:///app/node_modules/@moge/ascend-hal/dist/node.js')).toBeUndefined();
    expect(workerExecArgv('file:///app/node_modules/@moge/ascend-hal/dist/node.cjs')).toBeUndefined();
  });
});
