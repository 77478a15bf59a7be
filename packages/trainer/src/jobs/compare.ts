import { join } from 'node:path';
import type { TrainConfigInput } from '../config/train-config';
import type { LiveMode } from '../metrics/live-view';
import type { StepRecord } from '../metrics/step-record';
import { trainModel, type TrainRunResult } from '../loop/train';

/** One step of both runs side by side. */
export interface CompareRow {
  step: number;
  loss: { moge: number; topk: number };
  /** Mean over layers of the step's Imbalance Score (per-layer values are in each run's JSONL). */
  imbalance: { moge: number; topk: number };
  evalLoss?: { moge?: number; topk?: number };
}

export interface CompareResult {
  rows: CompareRow[];
  /** Per router: mean IS of every layer over all steps, and its maximum over steps and layers. */
  summary: Record<'moge' | 'topk', { finalLoss: number; evalLoss?: number; meanImbalancePerLayer: number[]; maxImbalance: number; runDir: string }>;
}

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);

/**
 * Trains the same model twice on the same data and seed — once with the MoGE router, once with
 * plain top-k — into `<outDir>/moge` and `<outDir>/topk`. Imbalance is measured on the same EP
 * devices (one expert group per device) for both, which is where MoGE balances by construction.
 */
export async function compareRouters(input: Omit<TrainConfigInput, 'router'>, outDir: string, options: { live?: LiveMode; onPhase?: (m: string) => void } = {}): Promise<CompareResult> {
  const records: Record<'moge' | 'topk', StepRecord[]> = { moge: [], topk: [] };
  const runs = {} as Record<'moge' | 'topk', TrainRunResult>;
  for (const router of ['moge', 'topk'] as const) {
    runs[router] = await trainModel(
      { ...input, router },
      { outDir: join(outDir, router), live: options.live, label: router, onPhase: options.onPhase, onStep: (r) => records[router].push(r) },
    );
  }
  const steps = Math.min(records.moge.length, records.topk.length);
  const rows: CompareRow[] = [];
  for (let i = 0; i < steps; i++) {
    const m = records.moge[i]!;
    const t = records.topk[i]!;
    const row: CompareRow = { step: m.step, loss: { moge: m.loss, topk: t.loss }, imbalance: { moge: mean(m.imbalanceScore), topk: mean(t.imbalanceScore) } };
    if (m.evalLoss !== undefined || t.evalLoss !== undefined) row.evalLoss = { moge: m.evalLoss, topk: t.evalLoss };
    rows.push(row);
  }
  const summarise = (router: 'moge' | 'topk') => {
    const rs = records[router];
    const layers = rs[0]?.imbalanceScore.length ?? 0;
    return {
      finalLoss: runs[router].loss,
      evalLoss: runs[router].evalLoss,
      meanImbalancePerLayer: Array.from({ length: layers }, (_, l) => mean(rs.map((r) => r.imbalanceScore[l]!))),
      maxImbalance: Math.max(0, ...rs.flatMap((r) => r.imbalanceScore)),
      runDir: runs[router].runDir,
    };
  };
  return { rows, summary: { moge: summarise('moge'), topk: summarise('topk') } };
}
