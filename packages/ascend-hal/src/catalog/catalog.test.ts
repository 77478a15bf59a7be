import { describe, expect, it } from 'vitest';
import { MiB, ProvenanceSchema } from '@moge/core';
import { listChips } from './chips';
import { getNodePreset, listNodePresets, nodePresetNames } from './nodes';
import { NodeSpecSchema } from './schemas';
import { parseClusterSpec } from './cluster';
import { listEfficiencyProfiles } from '../cost/profiles';

/** Integer counts that describe structure, not measured hardware figures. */
const STRUCTURAL_COUNTS = new Set(['devicesPerNode', 'links', 'chipsPerCard', 'chipsPerCpuDomain']);

/** Every numeric leaf, with the object that holds it and its path. */
function numericLeaves(value: unknown, path = ''): { path: string; key: string; holder: Record<string, unknown> }[] {
  if (typeof value !== 'object' || value === null) return [];
  const out: { path: string; key: string; holder: Record<string, unknown> }[] = [];
  for (const [key, v] of Object.entries(value as Record<string, unknown>)) {
    const p = path ? `${path}.${key}` : key;
    if (typeof v === 'number') out.push({ path: p, key, holder: value as Record<string, unknown> });
    else out.push(...numericLeaves(v, p));
  }
  return out;
}

function unsourcedNumbers(value: unknown): string[] {
  return numericLeaves(value)
    .filter(({ key, holder }) => !STRUCTURAL_COUNTS.has(key) && !(key === 'value' && ProvenanceSchema.safeParse(holder).success))
    .map((l) => l.path);
}

describe('catalog provenance', () => {
  it.each(listNodePresets().map((p) => [p.spec.name, p.spec] as const))('every number of %s carries source and confidence', (_name, spec) => {
    expect(unsourcedNumbers(spec)).toEqual([]);
  });

  it('every efficiency profile number outside its raw measurements carries provenance', () => {
    for (const profile of listEfficiencyProfiles()) {
      const { measurements: _rows, ...fitted } = profile;
      expect(unsourcedNumbers(fitted), profile.name).toEqual([]);
    }
  });

  it('the walker does catch a bare number', () => {
    expect(unsourcedNumbers({ a: { value: 1, source: 's', confidence: 'published' }, b: 3 })).toEqual(['b']);
  });

  it('every chip names an efficiency profile that exists, and says whether it is assumed', () => {
    const profiles = new Set(listEfficiencyProfiles().map((p) => p.name));
    for (const chip of listChips()) {
      expect(profiles.has(chip.efficiencyProfile.name), chip.name).toBe(true);
      if (chip.efficiencyProfile.name !== chip.name) expect(chip.efficiencyProfile.confidence, chip.name).toBe('assumed');
    }
  });

  it('figures that targets.md marks assumed are marked assumed here', () => {
    const a2 = getNodePreset('atlas-800t-a2');
    expect(a2.chip.hbmBandwidth).toMatchObject({ value: 1.6e12, confidence: 'assumed' });
    expect(a2.intraNode.bandwidth).toMatchObject({ value: 392e9, confidence: 'assumed' });
    expect(a2.interNode.bandwidth).toMatchObject({ value: 25e9, confidence: 'published' });
    expect(getNodePreset('atlas-300i-duo').chip.peakFlops.fp16.confidence).toBe('assumed');
    expect(getNodePreset('hgx-h200').chip.peakFlops.bf16).toMatchObject({ value: 989e12, confidence: 'published' });
  });
});

describe('node presets', () => {
  it('are valid NodeSpecs and round-trip through the schema unchanged', () => {
    for (const { spec } of listNodePresets()) expect(NodeSpecSchema.parse(spec)).toEqual(spec);
  });

  it('have unique names and aliases', () => {
    const names = nodePresetNames();
    expect(new Set(names).size).toBe(names.length);
    expect(names).toEqual(expect.arrayContaining(['atlas-800t-a2', 'atlas-800i-a2', 'atlas-300i-duo', 'atlas-900-a3', 'cloudmatrix384', 'hgx-h100', 'hgx-h200', 'hgx-h800', 'dgx-a100']));
  });

  it('resolve aliases and ignore case', () => {
    expect(getNodePreset('ATLAS-900-A3').name).toBe('cloudmatrix384');
  });

  it('name the preset a misspelt name is a typo of, wherever a preset is named; the list otherwise', () => {
    const meant = /preset: got "atlas800t-a2", expected a node preset; did you mean "atlas-800t-a2"\?/;
    expect(() => getNodePreset('atlas800t-a2')).toThrow(meant);
    expect(() => parseClusterSpec('atlas800t-a2:8')).toThrow(meant);
    expect(() => parseClusterSpec({ preset: 'atlas800t-a2', devices: 8 })).toThrow(meant);
    expect(() => getNodePreset('HGX-H20')).toThrow(/did you mean "hgx-h200"\?/);
    expect(() => getNodePreset('tpu-v5p')).toThrow(/expected one of atlas-800t-a2, /);
  });

  it('are frozen so no caller can change the catalog for everyone', () => {
    const spec = getNodePreset('hgx-h200');
    expect(() => {
      (spec.chip.hbmBandwidth as { value: number }).value = 1;
    }).toThrow(TypeError);
  });

  it('Atlas 300I Duo is PCIe only: 2 chips per card, 4 per host CPU domain, no bf16', () => {
    const duo = getNodePreset('atlas-300i-duo');
    expect(duo.pcieDomain).toMatchObject({ chipsPerCard: 2, chipsPerCpuDomain: 4 });
    expect(duo.devicesPerNode).toBe(duo.pcieDomain?.chipsPerCpuDomain);
    expect([duo.intraNode.topology, duo.hostLink.topology]).toEqual(['pcie', 'pcie']);
    expect(duo.chip.peakFlops.bf16.value).toBe(0);
    // Per chip = half the per-card vendor figures.
    expect(duo.chip.peakFlops.int8.value).toBe(140e12);
    expect(duo.chip.hbmBandwidth.value).toBe(204e9);
  });

  it('H800 differs from H100 in NVLink (400 GB/s bidirectional) only', () => {
    const h800 = getNodePreset('hgx-h800');
    const h100 = getNodePreset('hgx-h100');
    expect(h800.intraNode.bandwidth.value).toBe(200e9);
    expect(h100.intraNode.bandwidth.value).toBe(450e9);
    expect(h800.chip.peakFlops.bf16.value).toBe(h100.chip.peakFlops.bf16.value);
  });

  it('the 910B full mesh has 7 links per NPU', () => {
    const tier = getNodePreset('atlas-800t-a2').intraNode;
    expect(tier).toMatchObject({ topology: 'full-mesh', links: 7 });
  });
});

describe('device memory', () => {
  it('NVIDIA parts all give the nvidia-smi total in MiB, as H200 does, not the datasheet "80 GB" read as decimal', () => {
    const mib = (preset: string) => getNodePreset(preset).chip.hbmBytes.value / MiB;
    expect(mib('hgx-h200')).toBe(143_771);
    expect(mib('hgx-h100')).toBe(81_559);
    expect(mib('hgx-h800')).toBe(81_559);
    expect(mib('dgx-a100')).toBe(81_920);
    for (const chip of listChips().filter((c) => c.vendor === 'nvidia')) {
      expect(Number.isInteger(chip.hbmBytes.value / MiB), chip.name).toBe(true);
      expect(chip.hbmBytes.source, chip.name).toMatch(/nvidia-smi/);
    }
  });
});
