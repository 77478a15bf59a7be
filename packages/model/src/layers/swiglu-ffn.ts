import type { Backend, Tensor } from '@moge/ascend-hal';
import { addInto } from './accumulate';
import { linearBackward, linearForward } from './linear';

/** A dense SwiGLU FFN (the shared expert): down(silu(gate(x)) · up(x)). Weights in HF layout. */
export interface SwigluWeights {
  gate: Tensor; // [F, h]
  up: Tensor; // [F, h]
  down: Tensor; // [h, F]
}

export interface SwigluSaved {
  x: Tensor;
  g: Tensor;
  u: Tensor;
  a: Tensor;
}

export function swigluFfnForward(b: Backend, w: SwigluWeights, x: Tensor): { y: Tensor; saved: SwigluSaved } {
  const g = linearForward(b, x, w.gate);
  const u = linearForward(b, x, w.up);
  const a = b.swiglu(g, u);
  return { y: linearForward(b, a, w.down), saved: { x, g, u, a } };
}

export interface SwigluGrads {
  dx: Tensor;
  dGate: Tensor;
  dUp: Tensor;
  dDown: Tensor;
}

export function swigluFfnBackward(b: Backend, w: SwigluWeights, s: SwigluSaved, dy: Tensor): SwigluGrads {
  const down = linearBackward(b, s.a, w.down, dy, false);
  const [dg, du] = b.swigluBackward(s.g, s.u, down.dx);
  const gate = linearBackward(b, s.x, w.gate, dg, false);
  const up = linearBackward(b, s.x, w.up, du, false);
  return { dx: addInto(b, gate.dx, up.dx), dGate: gate.dWeight, dUp: up.dWeight, dDown: down.dWeight };
}
