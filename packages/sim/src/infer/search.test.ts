import { describe, expect, it } from 'vitest';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { enumerateArchs } from '../train/arch-ranges';
import { getInferenceProfile } from './profile';
import { defaultTpotCapFor, searchInference, serverFilter } from './search';
import { enumerateInferenceLayouts } from './search-space';

const pro = getPreset('pangu-pro-moe');
const a2 = parseClusterSpec('atlas-800i-a2:8');

describe('searchInference', () => {
  const archs = enumerateArchs({ base: pro as unknown as Record<string, unknown>, vary: { numLayers: [40, 48, 64], hiddenSize: [5120, 8192] }, totalParams: { min: 0, max: Infinity } });

  it('filters, scores under the cap, normalises to the baseline and keeps a Pareto front', () => {
    const progress: number[] = [];
    const r = searchInference({ archs: [pro, ...archs], cluster: a2, tpotCapS: 0.05, workload: { inputLength: 2048, quantization: 'w8a8' }, baseline: pro, top: 5, onProgress: (d) => progress.push(d) });
    expect(r.baseline?.arch).toBe('pangu-pro-moe');
    expect(progress.at(-1)).toBe(r.counts.layoutsSimulated);
    expect(r.top.length).toBeGreaterThan(0);
    for (let i = 1; i < r.top.length; i++) expect(r.top[i - 1]!.throughputPerCard).toBeGreaterThanOrEqual(r.top[i]!.throughputPerCard);
    for (const e of r.top) {
      expect(e.result.tpotS!).toBeLessThanOrEqual(0.05);
      expect(e.relative).toBeCloseTo(e.throughputPerCard / r.baseline!.throughputPerCard, 10);
    }
    // No Pareto entry is beaten on both throughput and size by another.
    for (const e of r.pareto) {
      expect(r.pareto.some((o) => o !== e && o.throughputPerCard > e.throughputPerCard && o.totalParams > e.totalParams)).toBe(false);
    }
    expect(r.counts.passedFilter + r.filtered.length).toBe(r.counts.architectures);
  });

  it('names an unknown profile instead of finding no layout', () => {
    expect(() => searchInference({ archs: [pro], cluster: a2, tpotCapS: 0.05, workload: { inputLength: 2048, quantization: 'w8a8' }, profile: 'bogus' })).toThrow(/profile: got "bogus", expected one of/);
  });

  it('names a bad workload field, cap or top instead of finding no layout (or batch 1 under a NaN cap)', () => {
    const search = (over: object) => () => searchInference({ archs: [pro], cluster: a2, tpotCapS: 0.05, workload: { inputLength: 2048 }, ...over });
    expect(search({ workload: { inputLength: 0 } })).toThrow(/inference search workload:\n {2}- inputLength: got 0/);
    expect(search({ workload: { inputLength: 2048, quantisation: 'w8a8' } })).toThrow(/quantisation[\s\S]*quantization/);
    expect(search({ tpotCapS: Number.NaN })).toThrow(/inference search:\n {2}- tpotCapS: got NaN/);
    expect(search({ tpotCapS: 0 })).toThrow(/tpotCapS: got 0/);
    expect(search({ top: -1 })).toThrow(/top: got -1/);
  });

  it('names an invalid architecture instead of finding no layout for it, and keeps the baseline\'s identity', () => {
    const search = (over: object) => searchInference({ archs: [pro], cluster: a2, tpotCapS: 0.05, workload: { inputLength: 2048 }, ...over });
    expect(() => search({ archs: [{ ...pro, topK: 0 }] })).toThrow(/invalid archs\[0\] \(pangu-pro-moe\):\n {2}- topK: got 0/);
    expect(() => search({ baseline: { ...pro, numLayers: 0 } })).toThrow(/invalid baseline \(pangu-pro-moe\):\n {2}- numLayers: got 0/);
    const smaller = { ...pro, name: 'pro-40', numLayers: 40 };
    const r = search({ archs: [pro, smaller], baseline: smaller });
    expect(r.baseline?.arch).toBe('pro-40');
    expect(r.top.find((e) => e.arch.name === 'pro-40')?.relative).toBeLessThanOrEqual(1 + 1e-12);
    // The baseline is one of the architectures, not an extra one simulated again.
    expect(r.counts.layoutsSimulated).toBe(search({ archs: [pro, smaller] }).counts.layoutsSimulated);
  });

  it('names a bad field of a profile object instead of finding no layout', () => {
    const base = getInferenceProfile();
    expect(() => searchInference({ archs: [pro], cluster: a2, tpotCapS: 0.05, workload: { inputLength: 2048 }, profile: { ...base, launchFraction: { ...base.launchFraction, value: 2 } } })).toThrow(/invalid inference profile:\n {2}- launchFraction/);
  });

  it('uses the Pangu Pro caps: 100 ms on 300I Duo, 50 ms on 800I A2', () => {
    expect(defaultTpotCapFor(parseClusterSpec('atlas-300i-duo:4'))).toBe(0.1);
    expect(defaultTpotCapFor(a2)).toBe(0.05);
  });

  it('rejects architectures whose weights do not fit one server, or over the bandwidth floor', () => {
    expect(serverFilter(pro, parseClusterSpec('atlas-800i-a2:1'), 0.05, 'w8a8')).toMatch(/do not fit/);
    expect(serverFilter(pro, a2, 0.0001, 'w8a8')).toMatch(/weight bandwidth/);
    expect(serverFilter(pro, a2, 0.05, 'w8a8')).toBeNull();
  });

  it('enumerates H2P-style layouts that fill the server', () => {
    const layouts = enumerateInferenceLayouts(pro, a2);
    expect(layouts.some((l) => l.plan.tp === 4 && l.plan.dp === 2 && l.plan.etp === 2 && l.plan.ep === 4 && l.layout.sharedExpertTp === 8)).toBe(true);
    for (const l of layouts) {
      expect(l.plan.tp * l.plan.dp).toBe(8);
      expect(l.plan.ep * l.plan.etp).toBe(8);
    }
  });
});
