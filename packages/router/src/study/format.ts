import type { ImbalanceStudyResult, ImbalanceStudyRow } from './imbalance-study';

/**
 * The imbalance study as a text table for people (the CLI's `moge route study` and the workspace's
 * `npm start` print it). Pure: returns the text, the caller decides where it goes.
 */

/** Published reference means for plain top-k at E=64, K=8, D=8 (targets.md IS-1). */
const PAPER_TOPK_MEAN_IS: Readonly<Record<number, number>> = { 16: 0.67, 64: 0.34, 256: 0.17 };

function isPaperSetting(r: ImbalanceStudyResult): boolean {
  const o = r.options;
  return o.numExperts === 64 && o.topK === 8 && o.numDevices === 8;
}

function cells(row: ImbalanceStudyRow, paper: boolean): string[] {
  const ref = paper && row.router === 'topk' ? PAPER_TOPK_MEAN_IS[row.tokens] : undefined;
  return [
    row.router,
    String(row.tokens),
    String(row.trials),
    row.meanIS.toFixed(4),
    `±${row.stderrIS.toFixed(4)}`,
    row.medianIS.toFixed(4),
    row.pImbalanced.toFixed(3),
    ref === undefined ? '-' : ref.toFixed(2),
  ];
}

/** Rows grouped by batch size (top-k then MoGE), aligned, with a one-line description on top. */
export function formatImbalanceStudy(result: ImbalanceStudyResult): string {
  const o = result.options;
  const paper = isPaperSetting(result);
  const headers = ['router', 'tokens', 'trials', 'mean IS', 'stderr', 'median IS', 'P(IS>0)', 'paper mean'];
  const rows = [...result.rows]
    .sort((a, b) => a.tokens - b.tokens || (a.router === b.router ? 0 : a.router === 'topk' ? -1 : 1))
    .map((r) => cells(r, paper));
  const table = [headers, ...rows];
  const widths = headers.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  const title =
    `Imbalance Score IS = (max_d T_d − min_d T_d) / |X|: E=${o.numExperts} experts, K=${o.topK}, ` +
    `D=${o.numDevices} devices of ${o.numExperts / o.numDevices} contiguous experts, seed ${o.seed}, backend ${result.backend}`;
  const note = paper ? 'paper mean: targets.md IS-1 (Pangu Pro MoE Fig. 2b, uniform top-k)' : '';
  return [title, line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line), ...(note ? [note] : [])].join('\n') + '\n';
}
