import { z } from 'zod';
import { Rng } from '@moge/core';
import type { PackedSplit } from './dataset';

/**
 * Where training is in the data: epoch and position in that epoch's order. Each epoch's order is a
 * permutation drawn from `seed` and the epoch number alone, so this small state is all a checkpoint
 * needs to continue with exactly the batches an uninterrupted run would have seen.
 */
export const DataCursorStateSchema = z.object({
  epoch: z.number().int().nonnegative(),
  position: z.number().int().nonnegative(),
});
export type DataCursorState = z.infer<typeof DataCursorStateSchema>;

export class DataCursor {
  private order: Uint32Array;
  private state: DataCursorState;

  constructor(
    private readonly split: PackedSplit,
    private readonly seed: number,
    state: DataCursorState = { epoch: 0, position: 0 },
  ) {
    if (state.position > split.numSequences) throw new RangeError(`data cursor position ${state.position} is past the ${split.numSequences} sequences of an epoch`);
    this.state = { ...state };
    this.order = this.epochOrder(state.epoch);
  }

  private epochOrder(epoch: number): Uint32Array {
    const order = Uint32Array.from({ length: this.split.numSequences }, (_, i) => i);
    new Rng(this.seed).fork(`epoch.${epoch}`).shuffle(order);
    return order;
  }

  get current(): DataCursorState {
    return { ...this.state };
  }

  /** The next `n` sequences as [n, seqLen + 1] windows, crossing into the next epoch when needed. */
  next(n: number): Int32Array {
    const w = this.split.seqLen + 1;
    const out = new Int32Array(n * w);
    for (let i = 0; i < n; i++) {
      if (this.state.position >= this.order.length) {
        this.state = { epoch: this.state.epoch + 1, position: 0 };
        this.order = this.epochOrder(this.state.epoch);
      }
      const s = this.order[this.state.position++]!;
      out.set(this.split.windows.subarray(s * w, (s + 1) * w), i * w);
    }
    return out;
  }
}
