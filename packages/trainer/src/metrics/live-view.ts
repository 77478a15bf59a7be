import cliProgress from 'cli-progress';
import type { StepRecord } from './step-record';

/**
 * The terminal view of a run: a progress bar with loss, held-out loss, tokens/s, the Imbalance
 * Score of every layer and the expert load. Drawn on stderr only when it is a terminal, so logs and `--json` stay clean.
 */
export interface LiveView {
  update(record: StepRecord): void;
  stop(): void;
}

export function formatImbalance(is: readonly number[]): string {
  return is.map((v) => v.toFixed(2)).join(' ');
}

const BARS = '▁▂▃▄▅▆▇█';

/**
 * Expert load as one bar per expert (summed over layers, scaled to the busiest): a balanced router
 * draws a flat line, a collapsing one a few spikes.
 */
export function formatExpertLoad(loads: readonly (readonly number[])[]): string {
  const total = (loads[0] ?? []).map((_, e) => loads.reduce((a, layer) => a + (layer[e] ?? 0), 0));
  const max = Math.max(0, ...total);
  return total.map((v) => BARS[max > 0 ? Math.min(BARS.length - 1, Math.floor((v / max) * (BARS.length - 1) + 0.5)) : 0]).join('');
}

export function startLiveView(totalSteps: number, startStep: number, label: string, enabled = Boolean(process.stderr.isTTY)): LiveView {
  if (!enabled) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} | loss {loss} | eval {evalLoss} | {tps} tok/s | IS/layer {is} | load {load} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(totalSteps, startStep, { loss: '-', evalLoss: '-', tps: '-', is: '-', load: '-' });
  let lastEval = '-';
  return {
    update(r) {
      if (r.evalLoss !== undefined) lastEval = r.evalLoss.toFixed(3);
      bar.update(r.step, { loss: r.loss.toFixed(3), evalLoss: lastEval, tps: r.tokensPerSecond.toFixed(0), is: formatImbalance(r.imbalanceScore), load: formatExpertLoad(r.expertLoads) });
    },
    stop: () => bar.stop(),
  };
}
