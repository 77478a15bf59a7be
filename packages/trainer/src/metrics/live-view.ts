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

/**
 * How a run shows its progress on stderr: `true` a progress bar redrawn in place (a terminal), `'lines'`
 * one plain line every 5 % of the steps, on every evaluation and at the last step (logs: CI, containers,
 * redirected output, where a redrawn bar would be one growing line or nothing), `false` nothing.
 * Default: the bar on a terminal, else nothing (a library call stays quiet; the CLI asks for lines).
 */
export type LiveMode = boolean | 'lines';

export function startLiveView(totalSteps: number, startStep: number, label: string, mode: LiveMode = Boolean(process.stderr.isTTY)): LiveView {
  if (mode === 'lines') return startLineLog(totalSteps, startStep, label, (line) => process.stderr.write(`${line}\n`));
  if (!mode) return { update() {}, stop() {} };
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

function formatDuration(s: number): string {
  const t = Math.max(0, Math.round(s));
  return t >= 60 ? `${Math.floor(t / 60)}m${String(t % 60).padStart(2, '0')}s` : `${t}s`;
}

/**
 * The `'lines'` view: the bar's fields as one line, written through `write`, every 5 % of the steps
 * (at least every step of a short run), on evaluation steps and at the last step. ETA from the wall
 * time since the view started over the steps done since.
 */
export function startLineLog(totalSteps: number, startStep: number, label: string, write: (line: string) => void, now: () => number = () => performance.now()): LiveView {
  const every = Math.max(1, Math.round(totalSteps / 20));
  const t0 = now();
  const width = String(totalSteps).length;
  return {
    update(r) {
      if (r.step % every !== 0 && r.evalLoss === undefined && r.step !== totalSteps) return;
      const done = r.step - startStep;
      const etaS = done > 0 ? ((now() - t0) / 1000 / done) * (totalSteps - r.step) : NaN;
      const fields = [
        `${label} step ${String(r.step).padStart(width)}/${totalSteps}`,
        `loss ${r.loss.toFixed(3)}`,
        ...(r.evalLoss !== undefined ? [`eval ${r.evalLoss.toFixed(3)}`] : []),
        `${r.tokensPerSecond.toFixed(0)} tok/s`,
        `IS/layer ${formatImbalance(r.imbalanceScore)}`,
        `load ${formatExpertLoad(r.expertLoads)}`,
        ...(Number.isFinite(etaS) && r.step < totalSteps ? [`ETA ${formatDuration(etaS)}`] : []),
      ];
      write(fields.join(' | '));
    },
    stop() {},
  };
}
