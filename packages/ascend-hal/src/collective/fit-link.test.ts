import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ValidationError } from '@moge/core';
import { makeCluster, parseClusterSpec } from '../catalog/cluster';
import { getNodePreset } from '../catalog/nodes';
import { estimateCollective } from './estimate';
import { fitIntraNodeTier, parseCollectiveBenchFile } from './fit-link';

// The lead's NCCL run on 2 × H200, read in place (never copied).
const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');
const FILE = resolve(repoRoot, 'tools', 'calibrate', 'data', 'h200-collectives-2.json');
const bench = parseCollectiveBenchFile(JSON.parse(readFileSync(FILE, 'utf8')), 'h200-collectives-2.json');
const node = getNodePreset('hgx-h200');

function errors(cluster = parseClusterSpec('hgx-h200:8')) {
  return bench.rows.map((r) => ({
    r,
    err: estimateCollective(cluster, { op: r.op, bytes: r.bytes, ranks: r.ranks }).timeS / r.timeS - 1,
  }));
}

describe('the hgx-h200 NVLink tier, calibrated on measured NCCL collectives', () => {
  it('holds exactly what fitIntraNodeTier returns for the file, marked measured', () => {
    // Refit from the preset without its fitted fields, so the answer cannot lean on the stored one.
    const { efficiency: _e, callOverheadS: _o, ...bare } = node.intraNode;
    const fit = fitIntraNodeTier(bench.rows, { ...node, intraNode: bare });
    expect(node.intraNode.efficiency!.value).toBeCloseTo(fit.efficiency, 6);
    expect(node.intraNode.callOverheadS!.value / fit.callOverheadS).toBeCloseTo(1, 5);
    expect(node.intraNode.efficiency!.confidence).toBe('measured');
    expect(node.intraNode.callOverheadS!.source).toContain('h200-collectives-2.json');
  });

  it('predicts every large (≥ 64 MiB) measured collective within 20 %, and most rows within 15 %', () => {
    const all = errors();
    for (const { r, err } of all.filter(({ r }) => r.bytes >= 64 * 2 ** 20))
      expect(Math.abs(err), `${r.op} ${r.bytes}`).toBeLessThan(0.2);
    expect(all.filter(({ err }) => Math.abs(err) < 0.15).length).toBeGreaterThanOrEqual(
      Math.ceil(all.length * 0.6),
    );
  });

  it('is closer to the measurements than the datasheet link alone', () => {
    const { efficiency: _e, callOverheadS: _o, ...datasheet } = node.intraNode;
    const raw = makeCluster({ ...node, intraNode: datasheet }, 8);
    const meanAbsLog = (es: { err: number }[]) =>
      es.reduce((s, e) => s + Math.abs(Math.log1p(e.err)), 0) / es.length;
    expect(meanAbsLog(errors())).toBeLessThan(meanAbsLog(errors(raw)) / 3);
  });

  it("keeps NCCL and HCCL conventions apart: the file's busbw is our busBandwidth of the measured time", () => {
    for (const r of bench.rows) {
      expect(r.algBandwidth).toBeCloseTo(r.bytes / r.timeS, 0);
      const factor = r.op === 'all-reduce' ? (2 * (r.ranks - 1)) / r.ranks : (r.ranks - 1) / r.ranks;
      expect(r.busBandwidth! / r.algBandwidth!).toBeCloseTo(factor, 9);
    }
  });

  it('refuses rows wider than a node and malformed files, naming the field', () => {
    expect(() => fitIntraNodeTier([...bench.rows, { ...bench.rows[0]!, ranks: 16 }], node)).toThrow(
      /\[32\]\.ranks/,
    );
    // A row the collective model refuses is named by its index, not only as a bare request field.
    expect(() => fitIntraNodeTier([bench.rows[0]!, { op: 'send-recv', ranks: 4, bytes: 1 << 20, timeS: 1e-4 }], node)).toThrow(
      /invalid collective rows:\n {2}- \[1\]\.ranks: got 4, expected 2 for send-recv/,
    );
    expect(() =>
      parseCollectiveBenchFile(
        { meta: bench.meta, rows: [{ ...bench.rows[0], op: 'all-sum' }, bench.rows[1]] },
        'bad.json',
      ),
    ).toThrow(ValidationError);
    expect(() =>
      parseCollectiveBenchFile(
        { meta: bench.meta, rows: [{ ...bench.rows[0], timeS: 0 }, bench.rows[1]] },
        'bad.json',
      ),
    ).toThrow(/rows\[0\]\.timeS/);
  });

  it('property: recovers the efficiency and overhead that generated synthetic timings', () => {
    const { efficiency: _e, callOverheadS: _o, ...datasheet } = node.intraNode;
    fc.assert(
      fc.property(
        fc.double({ min: 0.3, max: 0.95, noNaN: true }),
        fc.double({ min: 2e-6, max: 1e-4, noNaN: true }),
        (eff, overhead) => {
          const truth = makeCluster(
            {
              ...node,
              intraNode: {
                ...datasheet,
                efficiency: { value: eff, source: 'synthetic', confidence: 'assumed' },
                callOverheadS: { value: overhead, source: 'synthetic', confidence: 'assumed' },
              },
            },
            8,
          );
          const rows = (['all-reduce', 'all-gather', 'all-to-all'] as const).flatMap((op) =>
            [2 ** 10, 2 ** 20, 2 ** 26, 2 ** 30].map((bytes) => ({
              op,
              ranks: 2,
              bytes,
              timeS: estimateCollective(truth, { op, bytes, ranks: 2 }).timeS,
            })),
          );
          const fit = fitIntraNodeTier(rows, { ...node, intraNode: datasheet });
          expect(fit.efficiency / eff).toBeCloseTo(1, 3);
          expect(fit.callOverheadS / overhead).toBeCloseTo(1, 2);
        },
      ),
      { numRuns: 25 },
    );
  });
});
