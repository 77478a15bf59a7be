import { createReferenceBackend, type Backend } from '@moge/ascend-hal';
import { parseWith, Rng } from '@moge/core';
import { z } from 'zod';
import { balanceMetrics, countExperts } from '../metrics/balance';
import { createRouter } from '../router/registry';

/**
 * IS-1 of the Pangu Pro MoE paper (Fig. 2b): how unbalanced plain top-k routing is across devices,
 * against MoGE, by Monte Carlo. Top-k draws K distinct experts uniformly per token (the paper's
 * idealised router); MoGE routes random logits through the real `moge` router on a backend, with one
 * expert group per device. MoGE's device loads do not depend on the logits at all (every token puts
 * K/D assignments on every device), so the logits are drawn uniform in [−4, 4) from one 32-bit draw
 * each — 24 random bits, an fp32 mantissa's worth — which is ~15× cheaper than Box–Muller normals and
 * keeps a 10k-trial study at a few seconds.
 */
export const ImbalanceStudyOptionsSchema = z
  .object({
    /** Batch sizes |X| in tokens. */
    batchSizes: z.array(z.number().int().positive()).nonempty().default([16, 64, 256]),
    /** Monte-Carlo trials (batches) per batch size and router. */
    trials: z.number().int().positive().default(2000),
    numExperts: z.number().int().positive().default(64),
    topK: z.number().int().positive().default(8),
    /** Devices D, each holding E/D contiguous experts; MoGE uses M = D groups. */
    numDevices: z.number().int().positive().default(8),
    seed: z.number().int().min(0).max(0xffffffff).default(0),
  })
  .superRefine((o, ctx) => {
    if (o.numExperts % o.numDevices !== 0) {
      ctx.addIssue({ code: 'custom', path: ['numDevices'], input: o.numDevices, message: `a divisor of numExperts (${o.numExperts})` });
    }
    if (o.topK % o.numDevices !== 0 || o.topK > o.numExperts) {
      ctx.addIssue({
        code: 'custom',
        path: ['topK'],
        input: o.topK,
        message: `a multiple of numDevices (${o.numDevices}) and at most numExperts (${o.numExperts}), so MoGE can take K/D per device group`,
      });
    }
  });
export type ImbalanceStudyOptions = z.input<typeof ImbalanceStudyOptionsSchema>;
export type ImbalanceStudyConfig = z.output<typeof ImbalanceStudyOptionsSchema>;

/** 8 / 2^24: 24-bit uniform integers onto [−4, 4). */
const LOGIT_STEP = 8 / 16777216;

export interface ImbalanceStudyRow {
  router: 'topk' | 'moge';
  tokens: number;
  trials: number;
  meanIS: number;
  medianIS: number;
  /** Fraction of trials with IS > 0. */
  pImbalanced: number;
  /** Standard error of the mean IS (sample std / √trials). */
  stderrIS: number;
}

export interface ImbalanceStudyResult {
  options: ImbalanceStudyConfig;
  backend: string;
  rows: ImbalanceStudyRow[];
}

export interface StudyProgress {
  done: number;
  total: number;
}

/** K distinct experts out of E, uniformly: a partial Fisher–Yates over a reusable permutation. */
function drawDistinct(rng: Rng, perm: Int32Array, k: number, out: Int32Array, at: number): void {
  const e = perm.length;
  for (let j = 0; j < k; j++) {
    const r = j + rng.int(e - j);
    const tmp = perm[j]!;
    perm[j] = perm[r]!;
    perm[r] = tmp;
    out[at + j] = perm[j]!;
  }
}

function summarise(router: ImbalanceStudyRow['router'], tokens: number, scores: Float64Array): ImbalanceStudyRow {
  const n = scores.length;
  const sorted = Float64Array.from(scores).sort();
  const mean = sorted.reduce((a, b) => a + b, 0) / n;
  const median = n % 2 === 1 ? sorted[(n - 1) / 2]! : (sorted[n / 2 - 1]! + sorted[n / 2]!) / 2;
  const variance = n > 1 ? sorted.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  return {
    router,
    tokens,
    trials: n,
    meanIS: mean,
    medianIS: median,
    pImbalanced: scores.filter((x) => x > 0).length / n,
    stderrIS: Math.sqrt(variance / n),
  };
}

/**
 * Runs the study; `onProgress` is called after every trial batch with the trials done so far over
 * all batch sizes and both routers. Options are validated (errors name the field). Every batch size
 * and router draws from its own `Rng.fork`, so adding a batch size does not change the others.
 */
export function runImbalanceStudy(
  options: ImbalanceStudyOptions = {},
  onProgress?: (p: StudyProgress) => void,
  backend: Backend = createReferenceBackend(),
): ImbalanceStudyResult {
  const o = parseWith(ImbalanceStudyOptionsSchema, options, 'imbalance study options');
  const { numExperts: e, topK: k, numDevices: d, trials } = o;
  const root = new Rng(o.seed);
  const router = createRouter('moge', { numExperts: e, numGroups: d, topK: k });
  const scale = backend.full([e], 1);
  const total = o.batchSizes.length * 2 * trials;
  let done = 0;
  const tick = () => {
    done++;
    if (onProgress && (done % 64 === 0 || done === total)) onProgress({ done, total });
  };

  const rows: ImbalanceStudyRow[] = [];
  for (const tokens of o.batchSizes) {
    const topkRng = root.fork(`topk/${tokens}`);
    const perm = Int32Array.from({ length: e }, (_, i) => i);
    const ids = new Int32Array(tokens * k);
    const topkScores = new Float64Array(trials);
    for (let trial = 0; trial < trials; trial++) {
      for (let t = 0; t < tokens; t++) drawDistinct(topkRng, perm, k, ids, t * k);
      topkScores[trial] = balanceMetrics(countExperts(ids, e), d, tokens).imbalanceScore;
      tick();
    }
    rows.push(summarise('topk', tokens, topkScores));

    const mogeRng = root.fork(`moge/${tokens}`);
    const logits = new Float32Array(tokens * e);
    const mogeScores = new Float64Array(trials);
    for (let trial = 0; trial < trials; trial++) {
      for (let i = 0; i < logits.length; i++) logits[i] = (mogeRng.nextUint32() >>> 8) * LOGIT_STEP - 4;
      const routed = router.forward(backend, backend.fromArray(logits.slice(), [tokens, e]), scale);
      mogeScores[trial] = balanceMetrics(countExperts(routed.expertIdsHost, e), d, tokens).imbalanceScore;
      tick();
    }
    rows.push(summarise('moge', tokens, mogeScores));
  }
  return { options: o, backend: backend.name, rows };
}
