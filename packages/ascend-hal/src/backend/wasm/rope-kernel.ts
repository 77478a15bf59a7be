import { op } from './encoder';
import { F32, I32, V128, at, bytesOf, defineKernel, forVectors, load, splatF32 } from './kernel-dsl';

/**
 * rope(x, y, cos, sin, tokens, heads, half, sign): rotary embedding in the rotate-half layout over
 * x [tokens, heads, 2·half] → y. `cos` and `sin` hold one row of `half` values per token (the caller
 * gathers them for the tokens' positions); `sign` = −1 rotates backwards (the transpose, for the
 * backward pass). `half` must be a multiple of 4, so a head's two halves are whole vectors.
 */
export const ropeKernel = defineKernel(
  'rope',
  { x: I32, y: I32, cos: I32, sin: I32, tokens: I32, heads: I32, half: I32, sign: F32 },
  { halfBytes: I32, o: I32, h: I32, c: V128, s: V128, x1: V128, x2: V128, vsign: V128 },
  (v) => {
    // the second half of the head at x (or y): base + halfBytes + o
    const second = (base: number) => [...at(base, v.o), op.get(v.halfBytes), op.i32Add()];
    return [
      ...bytesOf(v.half), op.set(v.halfBytes),
      ...splatF32(v.sign, v.vsign),
      op.block(),
      op.get(v.tokens), op.i32Eqz(), op.get(v.heads), op.i32Eqz(), op.i32Add(), op.brIf(0),
      op.loop(), // tokens
      op.get(v.heads), op.set(v.h),
      op.loop(), // heads of the token
      ...forVectors(v.o, v.halfBytes, [
        ...load(v.cos, v.o), op.set(v.c),
        ...load(v.sin, v.o), op.get(v.vsign), op.f32x4Mul(), op.set(v.s),
        ...load(v.x, v.o), op.set(v.x1),
        ...second(v.x), op.v128Load(), op.set(v.x2),
        ...at(v.y, v.o), op.get(v.x1), op.get(v.c), op.f32x4Mul(), op.get(v.x2), op.get(v.s), op.f32x4Mul(), op.f32x4Sub(), op.v128Store(),
        ...second(v.y), op.get(v.x2), op.get(v.c), op.f32x4Mul(), op.get(v.x1), op.get(v.s), op.f32x4Mul(), op.f32x4Add(), op.v128Store(),
      ]),
      op.get(v.x), op.get(v.halfBytes), op.i32Const(1), op.i32Shl(), op.i32Add(), op.set(v.x),
      op.get(v.y), op.get(v.halfBytes), op.i32Const(1), op.i32Shl(), op.i32Add(), op.set(v.y),
      op.get(v.h), op.i32Const(1), op.i32Sub(), op.tee(v.h), op.brIf(0),
      op.end(),
      op.get(v.cos), op.get(v.halfBytes), op.i32Add(), op.set(v.cos),
      op.get(v.sin), op.get(v.halfBytes), op.i32Add(), op.set(v.sin),
      op.get(v.tokens), op.i32Const(1), op.i32Sub(), op.tee(v.tokens), op.brIf(0),
      op.end(),
      op.end(),
    ];
  },
);
