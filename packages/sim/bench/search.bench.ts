/**
 * Search benchmarks: `npm run bench` in packages/sim (vitest bench, one timed run per case: each is
 * seconds long). Each group has a baseline measured in the same run; vitest prints every case as a
 * multiple of the fastest.
 *
 * - The pruned search (recompute dominance, memory checked only for plans fast enough to matter,
 *   survivors simulated event by event) against simulating every plan that fits, for Pangu Pro MoE
 *   on 4096 Atlas 800T A2 NPUs. Both print their best plan so the two answers can be compared.
 * - The full Pangu-Pro-style architecture × plan search (examples/pangu-pro-ranges.json: hidden
 *   4096–8192, 32–64 heads, 8–16 KV heads, 40–64 layers, 32–64 experts, 60–80 B parameters) against one
 *   single-architecture search; the target is under a minute on a 2-core machine.
 */
import { readFileSync } from 'node:fs';
import { bench, describe } from 'vitest';
import { parseClusterSpec } from '@moge/ascend-hal';
import { getPreset } from '@moge/model';
import { ArchRangesSchema, enumerateArchs, searchTraining, type SearchResult } from '../src/index';

const cluster = parseClusterSpec('atlas-800t-a2:4096');
const pro = getPreset('pangu-pro-moe');
const batch = { globalBatchSize: 1024, seqLength: 4096 };
const ranges = JSON.parse(readFileSync(new URL('../examples/pangu-pro-ranges.json', import.meta.url), 'utf8')) as { base: unknown };
ranges.base = pro;
const archs = enumerateArchs(ArchRangesSchema.parse(ranges));
const once = { iterations: 1, warmupIterations: 0, time: 0, warmupTime: 0 };

function best(r: SearchResult): string {
  const e = r.top[0];
  if (!e) return 'no plan';
  const p = e.plan;
  return `TP${p.tp} CP${p.cp} PP${p.pp} VPP${p.vpp} EP${p.ep} mbs${p.microBatchSize} ${(e.result.tokensPerSecond / 1e6).toFixed(3)} M tok/s (${r.counts.simulated} simulated)`;
}

describe('plan search, Pangu Pro MoE on 4096 Atlas 800T A2', () => {
  bench(
    'baseline: simulate every plan that fits',
    () => {
      console.log(`  exhaustive best: ${best(searchTraining({ archs: [pro], cluster, ...batch, top: 1, survivors: Number.MAX_SAFE_INTEGER }))}`);
    },
    once,
  );
  bench(
    'pruned search (default)',
    () => {
      console.log(`  pruned best:     ${best(searchTraining({ archs: [pro], cluster, ...batch, top: 1 }))}`);
    },
    once,
  );
});

describe(`Pangu-Pro-style architecture × plan search (${archs.length} architectures)`, () => {
  bench('baseline: one architecture (pangu-pro-moe)', () => void searchTraining({ archs: [pro], cluster, ...batch, top: 5 }), once);
  bench(
    'every architecture of the ranges, shortlist 4',
    () => {
      const r = searchTraining({ archs, cluster, ...batch, top: 5, objective: 'mfu' });
      console.log(`  ranges: ${r.counts.enumerated} plans, best ${r.top[0]?.arch.name}: ${best(r)}`);
    },
    once,
  );
});
