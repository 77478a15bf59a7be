/**
 * The PyTorch side of bench/run.ts as one long-lived process (`tools/bench/model_torch.py serve`),
 * asked for each measurement over stdin and answering one JSON line on stdout.
 *
 * Why not a process per measurement (what the bench did before 2026-12-02): starting a child from
 * the bench's own process — hundreds of MB resident once it holds the weights, their frozen copies and a
 * training step's buffers — slowed the bench's *next* runs, up to 2× for a few hundred milliseconds
 * on this host (decode at batch 1: 1.5–1.9 ms a token before a child, 2.3–4.2 for the first runs
 * after it, even when the child was `sleep 1`; sleeping, spinning or streaming memory in-process for
 * as long did not). Those runs are exactly the timed ones of the next round. Started here, before the
 * bench allocates anything, the worker is the only child, and no round follows a process start.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { createInterface } from 'node:readline';

export interface TorchMeasurement {
  wallS: number;
  cpuS: number;
}

export class TorchWorker {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly replies: AsyncIterator<string>,
    /** The OpenBLAS kernel family the worker runs (tools/bench/blas_core.py). */
    readonly blasCore: string,
  ) {}

  /**
   * Starts `python script serve --threads n` and waits until torch is imported. Resolves to a reason
   * string instead when PyTorch is not importable (the bench then reports only our figures).
   */
  static async start(python: string, script: string, threads: number): Promise<TorchWorker | string> {
    const child = spawn(python, [script, 'serve', '--threads', String(threads)], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const spawnError = new Promise<string>((resolve) => child.once('error', (e) => resolve(String(e))));
    const iterator = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
    const first = await Promise.race([iterator.next(), spawnError]);
    if (typeof first === 'string' || first.done) {
      const exited = new Promise((resolve) => (child.exitCode !== null ? resolve(null) : child.once('exit', resolve)));
      await Promise.race([exited, spawnError]);
      const why = typeof first === 'string' ? first : stderr.trim().split('\n').pop() || 'no output';
      return `PyTorch not importable with ${python} (${why}), skipped`;
    }
    const ready = JSON.parse(first.value) as { ready?: boolean; blas_core?: string };
    if (!ready.ready) throw new Error(`${python} ${script} serve: expected a ready line first, got ${first.value}`);
    return new TorchWorker(child, iterator, ready.blas_core ?? 'unknown');
  }

  /** One train or decode measurement: `argv` as model_torch.py's command line takes it (mode first). */
  async measure(argv: string[]): Promise<TorchMeasurement> {
    this.child.stdin.write(`${JSON.stringify(argv)}\n`);
    const reply = await this.replies.next();
    if (reply.done) throw new Error(`model_torch.py serve ended before answering ${JSON.stringify(argv)}`);
    const out = JSON.parse(reply.value) as { wall_s?: number; cpu_s?: number; error?: string };
    if (out.error !== undefined || out.wall_s === undefined || out.cpu_s === undefined) {
      throw new Error(`model_torch.py serve, request ${JSON.stringify(argv)}: ${out.error ?? reply.value}`);
    }
    return { wallS: out.wall_s, cpuS: out.cpu_s };
  }

  /** Ends the worker (closing its stdin ends its request loop) and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin.end();
    await exited;
  }
}
