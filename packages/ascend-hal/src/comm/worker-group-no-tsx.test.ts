import type * as NodeModule from 'node:module';
import { describe, expect, it, vi } from 'vitest';

// As if tsx were installed nowhere the lookup goes (it is the application's, not a dependency of ours).
vi.mock('node:module', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeModule>();
  const { requireFindingNothing } = await import('../peer/require-finding-nothing.test-support');
  return {
    ...actual,
    createRequire: () => requireFindingNothing(),
  };
});

const { runWorkerGroup } = await import('./worker-group');

describe('a TypeScript worker entry without tsx', () => {
  it('fails before starting a worker, naming the entry, where it looked and the install command', async () => {
    const entry = new URL('./comm-fixture.worker.ts', import.meta.url);
    const run = runWorkerGroup({ size: 2, entry, payload: { length: 4 } });
    await expect(run).rejects.toMatchObject({ code: 'E_MISSING_DEPENDENCY' });
    await expect(run).rejects.toThrow(/comm-fixture\.worker\.ts runs through tsx, which did not load \(Cannot find module 'tsx\/package\.json'\)\. Looked from the worker entry \(.*\), @moge\/ascend-hal .*npm install --save-dev tsx/);
  });
});
