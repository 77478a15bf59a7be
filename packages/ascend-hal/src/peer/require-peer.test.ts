import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { describePlaces, peerSearchPlaces, requireFromFirst } from './require-peer';

// A global-install layout: the library and the application in separate trees, the peer only in the
// application's, and the application started through a symlink in <prefix>/bin.
const root = mkdtempSync(join(tmpdir(), 'moge-peer-'));
const write = (path: string, text: string) => {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), text);
};
write('lib/node_modules/lib-pkg/dist/index.js', '');
write('lib/node_modules/app/dist/bin.js', '');
write('lib/node_modules/app/node_modules/moge-test-peer/package.json', JSON.stringify({ name: 'moge-test-peer', version: '1.0.0', main: 'index.js' }));
write('lib/node_modules/app/node_modules/moge-test-peer/index.js', 'module.exports = { answer: 42 };');
mkdirSync(join(root, 'bin'));
symlinkSync(join(root, 'lib/node_modules/app/dist/bin.js'), join(root, 'bin/app'));
mkdirSync(join(root, 'elsewhere'));
const own = pathToFileURL(join(root, 'lib/node_modules/lib-pkg/dist/index.js'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('peerSearchPlaces', () => {
  it('looks beside the library, then from the program (through its bin symlink), then from the working directory', () => {
    const places = peerSearchPlaces(own, join(root, 'bin/app'), join(root, 'elsewhere'));
    expect(places.map((p) => [p.what, dirname(p.file)])).toEqual([
      ['@moge/ascend-hal', join(root, 'lib/node_modules/lib-pkg/dist')],
      ['the program', join(root, 'lib/node_modules/app/dist')],
      ['the working directory', join(root, 'elsewhere')],
    ]);
  });

  it('skips a main file that is no file (an eval worker) and lists a directory once', () => {
    const places = peerSearchPlaces(own, '[worker eval]', join(root, 'lib/node_modules/lib-pkg/dist'));
    expect(places.map((p) => p.what)).toEqual(['@moge/ascend-hal']);
  });
});

describe('requireFromFirst', () => {
  it('finds a peer only the application installed', () => {
    const found = requireFromFirst(peerSearchPlaces(own, join(root, 'bin/app'), join(root, 'elsewhere')), (load) => load('moge-test-peer') as { answer: number });
    expect(found).toMatchObject({ ok: true, value: { answer: 42 }, from: { what: 'the program' } });
  });

  it('says why and where it looked when no place has it', () => {
    const places = peerSearchPlaces(own, '', join(root, 'elsewhere'));
    const found = requireFromFirst(places, (load) => load('moge-test-peer'));
    expect(found).toMatchObject({ ok: false, reason: expect.stringMatching(/^Cannot find module 'moge-test-peer'/), tried: places });
    expect(describePlaces(places)).toBe(`@moge/ascend-hal (${join(root, 'lib/node_modules/lib-pkg/dist')}), the working directory (${join(root, 'elsewhere')})`);
  });

  it('prefers the error of a copy that was found but failed over "not found"', () => {
    const places = peerSearchPlaces(own, join(root, 'bin/app'), join(root, 'elsewhere'));
    const found = requireFromFirst(places, (load) => {
      const peer = load('moge-test-peer') as { answer: number };
      throw new Error(`found answer ${peer.answer}, wanted 41`);
    });
    expect(found).toMatchObject({ ok: false, reason: 'found answer 42, wanted 41' });
  });
});
