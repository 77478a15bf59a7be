import { checkLoadMatrix, type LoadMatrix } from '../loads/load-matrix';

/**
 * Load prediction by exponential moving average, per layer and expert:
 * predicted ← α · observed + (1 − α) · predicted. Expert popularity drifts slowly during training,
 * so a smoothed history predicts the next steps better than the last step alone (which carries
 * the batch's sampling noise). The first observation seeds the average.
 */
export class EmaLoadPredictor {
  private readonly alpha: number;
  private state: Float64Array[] | null = null;
  private observed = 0;

  constructor(alpha: number) {
    if (!(alpha > 0 && alpha <= 1)) throw new RangeError(`EmaLoadPredictor: alpha must be in (0, 1], got ${alpha}`);
    this.alpha = alpha;
  }

  /** Folds in one step's observed loads. */
  observe(loads: LoadMatrix): void {
    // One NaN would stay in the average for good (α·NaN + …), so it is refused at the door.
    checkLoadMatrix(loads, 'EmaLoadPredictor loads');
    if (this.state === null) {
      this.state = loads.layers.map((row) => Float64Array.from(row));
    } else {
      if (loads.numLayers !== this.state.length || loads.numExperts !== this.state[0]!.length) {
        throw new RangeError(
          `EmaLoadPredictor: step has ${loads.numLayers}×${loads.numExperts} loads, earlier steps ${this.state.length}×${this.state[0]!.length}`,
        );
      }
      const a = this.alpha;
      loads.layers.forEach((row, l) => {
        const s = this.state![l]!;
        for (let e = 0; e < s.length; e++) s[e] = a * row[e]! + (1 - a) * s[e]!;
      });
    }
    this.observed++;
  }

  /** Steps observed so far. */
  get steps(): number {
    return this.observed;
  }

  /** The current prediction (a copy); null before the first observation. */
  predict(): LoadMatrix | null {
    if (this.state === null) return null;
    return { numLayers: this.state.length, numExperts: this.state[0]!.length, layers: this.state.map((s) => Float64Array.from(s)) };
  }
}
