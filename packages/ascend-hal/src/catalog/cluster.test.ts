import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@moge/core';
import { makeCluster, parseClusterSpec } from './cluster';
import { getNodePreset, listNodePresets } from './nodes';

/** The field paths a ValidationError names. */
function issuePaths(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.issues.map((i) => i.path);
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('parseClusterSpec: preset strings', () => {
  it('a part of one node', () => {
    expect(parseClusterSpec('atlas-800i-a2:4')).toMatchObject({ name: 'atlas-800i-a2:4', numDevices: 4, devicesPerNode: 4, numNodes: 1 });
    expect(parseClusterSpec('hgx-h200:4').node.chip.name).toBe('nvidia-h200');
  });

  it('many whole nodes', () => {
    expect(parseClusterSpec('atlas-800t-a2:6144')).toMatchObject({ numDevices: 6144, devicesPerNode: 8, numNodes: 768 });
  });

  it('a bare preset is one full node; aliases and spaces are accepted', () => {
    expect(parseClusterSpec(' hgx-h200 ')).toMatchObject({ numDevices: 8, numNodes: 1 });
    expect(parseClusterSpec('atlas-900-a3:768')).toMatchObject({ numNodes: 2, devicesPerNode: 384 });
  });

  it('inline JSON', () => {
    expect(parseClusterSpec('{"preset":"dgx-a100","devices":16}')).toMatchObject({ numNodes: 2 });
  });

  it('bad input names the field', () => {
    expect(issuePaths(() => parseClusterSpec('atlas-9000:8'))).toEqual(['preset']);
    expect(issuePaths(() => parseClusterSpec('hgx-h200:0'))).toEqual(['devices']);
    expect(issuePaths(() => parseClusterSpec('hgx-h200:four'))).toEqual(['devices']);
    expect(issuePaths(() => parseClusterSpec('hgx-h200:'))).toEqual(['devices']);
    expect(issuePaths(() => parseClusterSpec('hgx-h200:12'))).toEqual(['devices']);
    expect(issuePaths(() => parseClusterSpec('{"preset": '))).toEqual(['(json)']);
    // Beyond 2^53 the count is already rounded by the time it is a number.
    expect(issuePaths(() => parseClusterSpec('hgx-h200:9007199254740993'))).toEqual(['devices']);
    expect(issuePaths(() => parseClusterSpec('hgx-h200:99999999999999999999'))).toEqual(['devices']);
  });

  it('the error message lists the presets', () => {
    expect(() => parseClusterSpec('h300:8')).toThrow(/atlas-800t-a2.*hgx-h200/s);
  });

  it('property: <preset>:<k × devicesPerNode> has k nodes of devicesPerNode', () => {
    const presets = listNodePresets().map((p) => p.spec);
    fc.assert(
      fc.property(fc.constantFrom(...presets), fc.integer({ min: 1, max: 64 }), (node, k) => {
        const c = parseClusterSpec(`${node.name}:${k * node.devicesPerNode}`);
        return c.numNodes === k && c.devicesPerNode === node.devicesPerNode && c.numDevices === c.numNodes * c.devicesPerNode;
      }),
    );
  });
});

describe('parseClusterSpec: objects (JSON/YAML files)', () => {
  it('a preset with overrides: a bare number becomes an assumed user override, other figures keep their source', () => {
    const c = parseClusterSpec({ preset: 'atlas-800t-a2', devices: 16, node: { interNode: { bandwidth: 50e9 } } });
    expect(c.node.interNode.bandwidth).toEqual({ value: 50e9, source: 'override in cluster file', confidence: 'assumed' });
    expect(c.node.interNode.latencyS).toEqual(getNodePreset('atlas-800t-a2').interNode.latencyS);
    expect(c.numNodes).toBe(2);
  });

  it('an override object without provenance does not inherit the preset source', () => {
    const c = parseClusterSpec({ preset: 'hgx-h200', devices: 8, node: { chip: { hbmBandwidth: { value: 5e12 } } } });
    expect(c.node.chip.hbmBandwidth).toEqual({ value: 5e12, source: 'override in cluster file', confidence: 'assumed' });
    expect(c.node.chip.peakFlops.bf16.value).toBe(989e12);
  });

  it('an override can swap the chip by name', () => {
    const c = parseClusterSpec({ preset: 'hgx-h100', devices: 8, node: { chip: 'nvidia-h200' } });
    expect(c.node.chip.name).toBe('nvidia-h200');
  });

  it('a full node description, with measured provenance kept as given', () => {
    const base = getNodePreset('hgx-h200');
    const node = {
      ...base,
      name: 'lab-box',
      chip: 'nvidia-h200',
      devicesPerNode: 4,
      intraNode: { ...base.intraNode, bandwidth: { value: 300e9, source: 'nccl-tests on lab-box', confidence: 'measured' } },
    };
    const c = parseClusterSpec({ name: 'lab', devices: 8, node });
    expect(c).toMatchObject({ name: 'lab', numNodes: 2, devicesPerNode: 4 });
    expect(c.node.intraNode.bandwidth.confidence).toBe('measured');
  });

  it('bad fields are named under node.*', () => {
    const base = getNodePreset('hgx-h200');
    expect(issuePaths(() => parseClusterSpec({ devices: 8, node: { ...base, intraNode: { ...base.intraNode, bandwidth: -1 } } }))).toEqual(['node.intraNode.bandwidth']);
    expect(issuePaths(() => parseClusterSpec({ devices: 8, node: { ...base, chip: 'tpu-v9' } }))).toEqual(['node.chip']);
    expect(issuePaths(() => parseClusterSpec({ preset: 'hgx-h200', devices: 8, node: { intraNode: { topology: 'full-mesh' } } }))).toEqual(['node.intraNode.links']);
    // The message reads as a sentence: "got nothing, expected the number of … links per device".
    expect(() => parseClusterSpec({ preset: 'hgx-h200', devices: 8, node: { intraNode: { topology: 'full-mesh' } } })).toThrow(
      /node\.intraNode\.links: got nothing, expected the number of point-to-point links per device \(a full-mesh tier needs `links`/,
    );
  });

  it('a file needs devices and a preset or a node; unknown keys are refused', () => {
    expect(issuePaths(() => parseClusterSpec({ preset: 'hgx-h200' }))).toEqual(['devices']);
    expect(issuePaths(() => parseClusterSpec({ devices: 8 }))).toEqual(['preset']);
    expect(issuePaths(() => parseClusterSpec({ preset: 'nope', devices: 8 }))).toEqual(['preset']);
    // The unknown key is named (with the known fields: nothing is close to `nodes`).
    expect(issuePaths(() => parseClusterSpec({ preset: 'hgx-h200', devices: 8, nodes: 2 }))).toEqual(['nodes']);
    expect(() => parseClusterSpec({ preset: 'hgx-h200', devices: 8, device: 2 })).toThrow(/device: got 2, expected no such field; did you mean "devices"\?/);
  });
});

/** The message of the ValidationError `fn` throws. */
function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof ValidationError) return e.message;
    throw e;
  }
  throw new Error('expected a ValidationError');
}

describe('parseClusterSpec: misspelt and mistyped fields', () => {
  const base = getNodePreset('hgx-h200');

  it('a misspelt override is refused, not dropped, at every depth, with the field meant', () => {
    const cases: [Record<string, unknown>, string, string][] = [
      [{ interNode: { bandwith: 1e11 } }, 'node.interNode.bandwith', 'bandwidth'],
      [{ interNode: { bandwidth: { value: 1e11, sorce: 'lab', confidence: 'measured' } } }, 'node.interNode.bandwidth.sorce', 'source'],
      [{ intraNode: { callOverhead: 1e-5 } }, 'node.intraNode.callOverhead', 'callOverheadS'],
      [{ hostMemoryByte: 1e12 }, 'node.hostMemoryByte', 'hostMemoryBytes'],
      [{ chip: { hbmByte: 1e11 } }, 'node.chip.hbmByte', 'hbmBytes'],
      [{ chip: { peakFlops: { bf61: 1e15 } } }, 'node.chip.peakFlops.bf61', 'bf16'],
      [{ chip: { efficiencyProfile: { nam: 'nvidia-h200' } } }, 'node.chip.efficiencyProfile.nam', 'name'],
      [{ pcieDomain: { chipsPerCrd: 2 } }, 'node.pcieDomain.chipsPerCrd', 'chipsPerCard'],
    ];
    for (const [node, path, meant] of cases) {
      const preset = path.includes('pcieDomain') ? 'atlas-300i-duo' : 'hgx-h200';
      const text = message(() => parseClusterSpec({ preset, devices: 4, node }));
      expect(text, path).toContain(`${path}: got `);
      expect(text, path).toContain(`expected no such field; did you mean "${meant}"?`);
    }
  });

  it('a full node description with a misspelt field is refused too', () => {
    const { devicesPerNode, ...rest } = base;
    const text = message(() => parseClusterSpec({ devices: 8, node: { ...rest, chip: 'nvidia-h200', devicesPerNod: devicesPerNode } }));
    expect(text).toMatch(/node\.devicesPerNod: got 8, expected no such field; did you mean "devicesPerNode"\?/);
  });

  it('a value of the wrong kind says what was expected', () => {
    const text = message(() => parseClusterSpec({ preset: 'hgx-h200', devices: 8, node: { interNode: { bandwidth: 'fast' } } }));
    expect(text).toContain('node.interNode.bandwidth: got "fast", expected a number, or { value, source, confidence }');
    expect(text).not.toMatch(/Invalid input/);
    expect(message(() => parseClusterSpec({ preset: 'hgx-h200', devices: 8, node: { interNode: { bandwidth: { value: 1e11, source: 'lab', confidence: 'guess' } } } }))).toMatch(
      /node\.interNode\.bandwidth\.confidence: got "guess", expected one of "measured"\|"published"\|"assumed"/,
    );
    expect(message(() => parseClusterSpec({ preset: 'hgx-h200', devices: 8, node: { intraNode: 5 } }))).toContain('node.intraNode: got 5, expected an object (not a number)');
    expect(message(() => parseClusterSpec({ preset: 'hgx-h200', devices: 8, node: { chip: 'tpu-v9' } }))).toMatch(/node\.chip: got "tpu-v9", expected a chip preset \(one of .*nvidia-h200.*\) or a full chip spec/);
  });

  it('errors and overridden figures name the file; the cluster says it is not the plain preset', () => {
    const file = { preset: 'hgx-h200', devices: 16, node: { interNode: { bandwidth: 1e11 } } };
    expect(parseClusterSpec(file).name).toBe('hgx-h200:16 (with overrides)');
    const c = parseClusterSpec(file, { file: 'cl.yaml' });
    expect(c.name).toBe('hgx-h200:16 (with overrides from cl.yaml)');
    expect(c.node.interNode.bandwidth).toEqual({ value: 1e11, source: 'override in cl.yaml', confidence: 'assumed' });
    expect(parseClusterSpec({ preset: 'hgx-h200', devices: 16 }, { file: 'cl.yaml' }).name).toBe('hgx-h200:16');
    expect(parseClusterSpec({ preset: 'hgx-h200', devices: 16, node: {} }).name).toBe('hgx-h200:16');
    expect(parseClusterSpec({ ...file, name: 'lab' }).name).toBe('lab');
    expect(message(() => parseClusterSpec({ ...file, node: { interNode: { bandwith: 1e11 } } }, { file: 'cl.yaml' }))).toMatch(/^invalid cluster file cl\.yaml:\n {2}- node\.interNode\.bandwith/);
    expect(message(() => parseClusterSpec({ preset: 'hgx-h200', device: 16 }, { file: 'cl.yaml' }))).toMatch(/^invalid cluster file cl\.yaml:/);
  });
});

describe('makeCluster', () => {
  it('refuses a device count that leaves a node half full', () => {
    expect(issuePaths(() => makeCluster(getNodePreset('atlas-300i-duo'), 6))).toEqual(['devices']);
    expect(makeCluster(getNodePreset('atlas-300i-duo'), 3)).toMatchObject({ numNodes: 1, devicesPerNode: 3 });
    expect(issuePaths(() => makeCluster(getNodePreset('hgx-h200'), 2 ** 60))).toEqual(['devices']);
  });
});
