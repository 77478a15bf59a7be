import { describe, expect, it } from 'vitest';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { ArchRangesSchema, enumerateArchs } from './arch-ranges';
import { searchTraining } from './search';

const cluster = parseClusterSpec('atlas-800t-a2:64');
const pro = getPreset('pangu-pro-moe');
const space = { tp: [2, 4, 8], cp: [1, 2], pp: [2, 4], vpp: [1, 2], ep: [4, 8, 16], microBatchSize: [1, 2] };

describe('searchTraining', () => {
  const progress: [number, number][] = [];
  const r = searchTraining({ archs: [pro], cluster, globalBatchSize: 64, seqLength: 4096, space, top: 5, survivors: 12, onProgress: (d, t) => progress.push([d, t]) });

  it('returns fitting plans that fill the cluster, best first by the objective', () => {
    expect(r.top.length).toBeGreaterThan(0);
    expect(r.top.length).toBeLessThanOrEqual(5);
    for (const e of r.top) {
      expect(e.result.fitsInMemory).toBe(true);
      expect(e.result.peakMemoryBytesPerDevice).toBeLessThanOrEqual(cluster.node.chip.hbmBytes.value);
      expect(e.plan.tp * e.plan.cp * e.plan.dp * e.plan.pp).toBe(64);
    }
    for (let i = 1; i < r.top.length; i++) expect(r.top[i - 1]!.result.tokensPerSecond).toBeGreaterThanOrEqual(r.top[i]!.result.tokensPerSecond);
    expect(r.counts.simulated).toBeLessThanOrEqual(12);
    expect(r.counts.enumerated).toBeGreaterThan(r.counts.fitting);
  });

  it('keeps a Pareto front nobody beats on both throughput and memory', () => {
    expect(r.pareto.length).toBeGreaterThan(0);
    for (const e of r.pareto) {
      for (const o of r.pareto) {
        if (o === e) continue;
        const dominates = o.result.tokensPerSecond >= e.result.tokensPerSecond && o.result.peakMemoryBytesPerDevice <= e.result.peakMemoryBytesPerDevice;
        expect(dominates && (o.result.tokensPerSecond > e.result.tokensPerSecond || o.result.peakMemoryBytesPerDevice < e.result.peakMemoryBytesPerDevice)).toBe(false);
      }
    }
    expect(r.pareto).toContain(r.top[0]);
  });

  it('reports progress up to the total', () => {
    expect(progress.at(-1)).toEqual([r.counts.enumerated, r.counts.enumerated]);
  });

  it('prunes by memory: a cluster too small for the model gives no plan', () => {
    const tiny = searchTraining({ archs: [getPreset('pangu-ultra-moe')], cluster: parseClusterSpec('atlas-800t-a2:8'), globalBatchSize: 8, seqLength: 4096, top: 3 });
    expect(tiny.top).toEqual([]);
    expect(tiny.counts.fitting).toBe(0);
  });

  it('screens many architectures and searches plans for a shortlist (ranges × plans, objective MFU)', () => {
    const archs = enumerateArchs(
      ArchRangesSchema.parse({ base: pro, vary: { hiddenSize: [4096, 5120], numLayers: [40, 48] }, totalParams: { min: 5e10, max: 9e10 } }),
    );
    expect(archs.length).toBeGreaterThan(2);
    const s = searchTraining({ archs, cluster, globalBatchSize: 64, seqLength: 4096, space, objective: 'mfu', top: 3, survivors: 6, shortlist: 2 });
    expect(s.counts.architectures).toBe(archs.length);
    expect(s.counts.shortlisted).toBe(2);
    expect(new Set(s.top.map((e) => e.arch)).size).toBeLessThanOrEqual(2);
    for (let i = 1; i < s.top.length; i++) expect(s.top[i - 1]!.result.mfu).toBeGreaterThanOrEqual(s.top[i]!.result.mfu);
  });

  it('screens with every recompute policy of the space: architectures that fit only with full recompute are still found', () => {
    // 24 NPUs, 8K tokens: none of these fits with fine-grained recompute, all of them with full.
    const archs = enumerateArchs(
      ArchRangesSchema.parse({ base: pro, vary: { hiddenSize: [4096, 5120], numLayers: [40, 48] }, totalParams: { min: 5e10, max: 9e10 } }),
    );
    const small = parseClusterSpec('atlas-800t-a2:24');
    const batch = { archs, cluster: small, globalBatchSize: 48, seqLength: 8192, top: 3 };
    expect(searchTraining({ ...batch, space: { recompute: ['fine'] }, shortlist: archs.length }).counts.fitting).toBe(0);
    const unscreened = searchTraining({ ...batch, shortlist: archs.length });
    const screened = searchTraining({ ...batch, shortlist: 2 });
    expect(screened.counts.shortlisted).toBe(2);
    expect(screened.top.length).toBeGreaterThan(0);
    expect(screened.top[0]!.plan.recompute).toEqual(['layer']);
    // The screen keeps the architecture the unscreened search ranks first.
    expect(screened.top[0]!.arch).toEqual(unscreened.top[0]!.arch);
    expect(screened.top[0]!.result.tokensPerSecond).toBe(unscreened.top[0]!.result.tokensPerSecond);
  });
});
