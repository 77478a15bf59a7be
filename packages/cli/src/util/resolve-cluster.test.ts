import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValidationError } from '@moge/core';
import { resolveCluster } from './resolve-cluster';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'moge-cluster-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveCluster', () => {
  it('takes a preset string and inline JSON', () => {
    expect(resolveCluster('atlas-800i-a2:4')).toMatchObject({ numDevices: 4, numNodes: 1 });
    expect(resolveCluster('{"preset":"hgx-h200","devices":16}')).toMatchObject({ numNodes: 2 });
  });

  it('reads JSON and YAML files', () => {
    const json = join(dir, 'c.json');
    writeFileSync(json, JSON.stringify({ preset: 'dgx-a100', devices: 32 }));
    expect(resolveCluster(json)).toMatchObject({ numNodes: 4 });
    const yaml = join(dir, 'c.yml');
    writeFileSync(yaml, 'preset: atlas-300i-duo\ndevices: 8\n');
    expect(resolveCluster(yaml)).toMatchObject({ numNodes: 2, devicesPerNode: 4 });
  });

  it('a typo is reported against the preset list; a missing file by name', () => {
    expect(() => resolveCluster('hgx-h20:8')).toThrow(ValidationError);
    expect(() => resolveCluster(join(dir, 'nope.yaml'))).toThrow(/no such file/);
  });

  it('a misspelt node preset names the one meant; a name close to none lists them all', () => {
    expect(() => resolveCluster('atlas800t-a2:8')).toThrow(/^invalid cluster spec:\n {2}- preset: got "atlas800t-a2", expected a node preset; did you mean "atlas-800t-a2"\?/);
    expect(() => resolveCluster('hgx-h20:8')).toThrow(/did you mean "hgx-h200"\?/);
    expect(() => resolveCluster('tpu-v5p:8')).toThrow(/expected one of atlas-800t-a2, /);
  });

  it('a bad field in a file is named', () => {
    const bad = join(dir, 'bad.json');
    writeFileSync(bad, JSON.stringify({ preset: 'hgx-h200', devices: 0 }));
    expect(() => resolveCluster(bad)).toThrow(/devices/);
  });
});
