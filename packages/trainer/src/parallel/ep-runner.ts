import type { Backend, Communicator, Tensor } from '@moge/ascend-hal';
import { expertBlockBackward, expertBlockForward, type ExpertActivations, type ExpertCall, type ExpertGrads, type ExpertRunner } from '@moge/model';
import { gatherHostRows, planReceive, planSend, scatterHostRows, type ReceivePlan } from './exchange-plan';
import type { ExpertOwnership } from './ownership';

/** This rank's experts of one layer: stacked weights [El, F, h], [El, F, h], [El, h, F]. */
export interface LocalExpertWeights {
  gate: Tensor;
  up: Tensor;
  down: Tensor;
}

/** Host gradients (read-only views) of this rank's experts of one layer, shaped like `LocalExpertWeights`. */
export interface LocalExpertGrads {
  gate: Float32Array;
  up: Float32Array;
  down: Float32Array;
}

interface Saved {
  sendRows: number[];
  recv: ReceivePlan;
  /** Undefined when no rows reached this rank's experts. */
  act?: ExpertActivations;
}

/**
 * Expert parallelism over a Communicator. In each MoE layer every rank (1) tells every owner how many
 * of its rows go to each of the owner's experts (all-to-all of counts), (2) sends those rows
 * (all-to-all-v of rows), (3) runs its own experts on what it received, as one grouped matmul per
 * projection, and (4) returns the outputs to where they came from (the inverse all-to-all-v).
 * Backward sends the output gradients the same way, hands this rank's expert weight gradients to
 * `onGrads` (they never leave their owner) and returns the input gradients.
 *
 * Every rank must make the same sequence of calls: a rank with nothing to compute in a round still
 * joins it through `idleForward`.
 */
export class ExpertParallelRunner implements ExpertRunner {
  constructor(
    private readonly comm: Communicator,
    private readonly own: ExpertOwnership,
    private readonly hidden: number,
    private readonly local: (layer: number) => LocalExpertWeights,
    private readonly onGrads: (layer: number, grads: LocalExpertGrads) => void,
  ) {
    if (own.numRanks !== comm.size) throw new RangeError(`ownership is for ${own.numRanks} ranks, the communicator has ${comm.size}`);
  }

  forward(b: Backend, call: ExpertCall, xs: Tensor): { ys: Tensor; saved: unknown } {
    const rows = call.offsets[call.offsets.length - 1]!;
    const r = this.dispatchForward(b, call.layer, call.offsets, call.counts, rows === 0 ? new Float32Array(0) : (b.read(xs) as Float32Array));
    return { ys: b.fromArray(r.ys, [rows, this.hidden]), saved: r.saved };
  }

  backward(b: Backend, call: ExpertCall, saved: unknown, dys: Tensor): ExpertGrads {
    const s = saved as Saved;
    const h = this.hidden;
    const rows = call.offsets[call.offsets.length - 1]!;
    const sent = this.comm.allToAllV(rows === 0 ? new Float32Array(0) : (b.read(dys) as Float32Array), s.sendRows.map((n) => n * h));
    let back: Float32Array = new Float32Array(0);
    if (s.act) {
      const w = this.local(call.layer);
      const dl = b.fromArray(gatherHostRows(sent.data, s.recv.expertMajor, h), [s.recv.expertMajor.length, h]);
      const g = expertBlockBackward(b, w.gate, w.up, w.down, s.recv.localOffsets, s.act, dl);
      this.onGrads(call.layer, { gate: hostView(b, g.dExpertGate), up: hostView(b, g.dExpertUp), down: hostView(b, g.dExpertDown) });
      back = scatterHostRows(b.read(g.dxs) as Float32Array, s.recv.expertMajor, h);
    } // else: no rows reached these experts, their gradient is zero

    const dxs = this.comm.allToAllV(back, s.recv.rowsFromSource.map((n) => n * h));
    return { dxs: b.fromArray(dxs.data, [rows, h]) };
  }

  /** Joins one layer's forward exchange with no rows of its own (its experts still serve the others). */
  idleForward(b: Backend, layer: number): void {
    const E = this.own.numExperts;
    this.dispatchForward(b, layer, new Int32Array(E + 1), new Int32Array(E), new Float32Array(0));
  }

  private dispatchForward(b: Backend, layer: number, offsets: Int32Array, counts: Int32Array, xsHost: Float32Array): { ys: Float32Array; saved: Saved } {
    const { numRanks: P, perRank: El } = this.own;
    const h = this.hidden;
    // Counts first: each owner learns how many rows of each of its experts come from each source.
    const recvCounts = this.comm.allToAllV(Int32Array.from(counts), new Array<number>(P).fill(El)).data;
    const recv = planReceive(recvCounts, P, El);
    const { sendRows } = planSend(offsets, P, El);
    const got = this.comm.allToAllV(xsHost, sendRows.map((n) => n * h));
    let out: Float32Array = new Float32Array(0);
    let act: ExpertActivations | undefined;
    if (recv.expertMajor.length > 0) {
      const w = this.local(layer);
      const xl = b.fromArray(gatherHostRows(got.data, recv.expertMajor, h), [recv.expertMajor.length, h]);
      const f = expertBlockForward(b, w.gate, w.up, w.down, recv.localOffsets, xl);
      act = f.saved;
      out = scatterHostRows(b.read(f.ys) as Float32Array, recv.expertMajor, h);
    }
    const ys = this.comm.allToAllV(out, recv.rowsFromSource.map((n) => n * h)).data;
    return { ys, saved: { sendRows, recv, act } };
  }

}

/** Read-only host view of a tensor (valid until the backend reuses it; the sink copies out at once). */
function hostView(b: Backend, t: Tensor): Float32Array {
  return b.read(t) as Float32Array;
}
