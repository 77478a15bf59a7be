import cliProgress from 'cli-progress';
import type { StepRecord } from './step-record';

/**
 * The terminal view of a run: a progress bar with loss, held-out loss, tokens/s and the Imbalance
 * Score of every layer. Drawn on stderr only when it is a terminal, so logs and `--json` stay clean.
 */
export interface LiveView {
  update(record: StepRecord): void;
  stop(): void;
}

export function formatImbalance(is: readonly number[]): string {
  return is.map((v) => v.toFixed(2)).join(' ');
}

export function startLiveView(totalSteps: number, startStep: number, label: string, enabled = Boolean(process.stderr.isTTY)): LiveView {
  if (!enabled) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} [{bar}] {value}/{total} | loss {loss} | eval {evalLoss} | {tps} tok/s | IS/layer {is} | ETA {eta_formatted}`,
      stream: process.stderr,
      hideCursor: true,
      etaBuffer: 20,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(totalSteps, startStep, { loss: '-', evalLoss: '-', tps: '-', is: '-' });
  let lastEval = '-';
  return {
    update(r) {
      if (r.evalLoss !== undefined) lastEval = r.evalLoss.toFixed(3);
      bar.update(r.step, { loss: r.loss.toFixed(3), evalLoss: lastEval, tps: r.tokensPerSecond.toFixed(0), is: formatImbalance(r.imbalanceScore) });
    },
    stop: () => bar.stop(),
  };
}
