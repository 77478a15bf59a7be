import { parseWith, ValidationError } from '@moge/core';
import { z } from 'zod';
import { makeCluster } from '../catalog/cluster';
import type { NodeSpec } from '../catalog/schemas';
import { nelderMead } from '../cost/nelder-mead';
import { estimateCollective } from './estimate';
import { CollectiveOpSchema } from './schemas';

/** One timed collective in nccl-tests conventions (`bytes` as COLLECTIVE_BYTES_CONVENTION says). */
export const CollectiveBenchRowSchema = z.object({
  op: CollectiveOpSchema,
  ranks: z.number().int().min(2),
  bytes: z.number().int().positive(),
  timeS: z.number().positive(),
  /** What the source printed; kept for reference, the fit uses `timeS`. */
  algBandwidth: z.number().positive().optional(),
  busBandwidth: z.number().positive().optional(),
});
export type CollectiveBenchRow = z.infer<typeof CollectiveBenchRowSchema>;

/** The JSON tools/calibrate/h200_collectives.py writes (`tools/calibrate/data/h200-collectives-*.json`). */
export const CollectiveBenchFileSchema = z.object({
  meta: z.looseObject({ device: z.string().min(1), ranks: z.number().int().min(2), date: z.string().min(1) }),
  rows: z.array(CollectiveBenchRowSchema).min(2),
});
export type CollectiveBenchFile = z.infer<typeof CollectiveBenchFileSchema>;

export interface IntraNodeFit {
  /** Fraction of the tier's bandwidth collectives reach (LinkTier.efficiency). */
  efficiency: number;
  /** Fixed seconds per collective call (LinkTier.callOverheadS). */
  callOverheadS: number;
  /** Mean |ln(predicted / measured time)| over the rows at the fit. */
  meanAbsLogError: number;
}

const logistic = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Fits a node's intra-node tier (`efficiency`, `callOverheadS`; the per-step α stays as it is) to
 * collectives timed inside one node, through `estimateCollective` itself so the fitted tier
 * reproduces its rows by construction. The loss is the mean absolute log error: a median-like fit,
 * so one cold first call (NCCL's lazy connection set-up) does not drag the overhead up.
 */
export function fitIntraNodeTier(rows: readonly CollectiveBenchRow[], node: NodeSpec): IntraNodeFit {
  const parsed = parseWith(z.array(CollectiveBenchRowSchema).min(2), rows, 'collective rows');
  const tooWide = parsed.findIndex((r) => r.ranks > node.devicesPerNode);
  if (tooWide >= 0) {
    throw new ValidationError('collective rows', [
      {
        path: `[${tooWide}].ranks`,
        received: parsed[tooWide]!.ranks,
        expected: `at most ${node.devicesPerNode}: an intra-node fit needs rows inside one ${node.name} node`,
      },
    ]);
  }
  // A row the model refuses (send-recv over 4 ranks) would otherwise fail inside the fit, as a bare
  // `collective request` error that does not say which row.
  const asIs = makeCluster(node, node.devicesPerNode);
  parsed.forEach((r, i) => {
    try {
      estimateCollective(asIs, { op: r.op, bytes: r.bytes, ranks: r.ranks });
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
      throw new ValidationError('collective rows', e.issues.map((issue) => ({ ...issue, path: `[${i}].${issue.path}` })));
    }
  });
  const trial = ([effLogit, logOverhead]: number[]) => {
    const intraNode = {
      ...node.intraNode,
      efficiency: { value: logistic(effLogit!), source: 'fit in progress', confidence: 'measured' as const },
      callOverheadS: {
        value: Math.exp(logOverhead!),
        source: 'fit in progress',
        confidence: 'measured' as const,
      },
    };
    return makeCluster({ ...node, intraNode }, node.devicesPerNode);
  };
  const loss = (p: number[]) => {
    const cluster = trial(p);
    let sum = 0;
    for (const r of parsed)
      sum += Math.abs(
        Math.log(estimateCollective(cluster, { op: r.op, bytes: r.bytes, ranks: r.ranks }).timeS / r.timeS),
      );
    return sum / parsed.length;
  };
  // Start at 70 % of the link and the smallest time seen; restarts escape an early collapse.
  let best = nelderMead(loss, [Math.log(0.7 / 0.3), Math.log(Math.min(...parsed.map((r) => r.timeS)))]);
  for (let restart = 0; restart < 3; restart++) best = nelderMead(loss, best.x, 2000, 0.3);
  return {
    efficiency: logistic(best.x[0]!),
    callOverheadS: Math.exp(best.x[1]!),
    meanAbsLogError: best.value,
  };
}

/** Parses a collective bench file, naming the bad field. */
export function parseCollectiveBenchFile(raw: unknown, label: string): CollectiveBenchFile {
  return parseWith(CollectiveBenchFileSchema, raw, `collective bench file ${label}`);
}
