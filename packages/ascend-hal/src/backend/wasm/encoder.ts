/**
 * Just enough of the WebAssembly binary format to emit one small module of numeric kernels: types,
 * functions, one exported memory, exports and code. Kernels are written as readable instruction
 * sequences (see softmax-kernel.ts) instead of being shipped as an opaque binary blob, so the code
 * that runs is the code that is reviewed. WebAssembly (with the fixed-width SIMD proposal, in every
 * current engine) is a web standard, not a Node API: the packages using it stay browser-safe.
 * It lives in @moge/ascend-hal (exported as `wasmEncoder`) so the HAL's elementwise kernels and the router's
 * fused MoGE softmax share one encoder.
 */

export const I32 = 0x7f;
export const F64 = 0x7c;
export const F32 = 0x7d;
export const V128 = 0x7b;
export type ValType = typeof I32 | typeof F32 | typeof F64 | typeof V128;

/** Unsigned LEB128. */
export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n !== 0) byte |= 0x80;
    out.push(byte);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 of a 32-bit integer. */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = n & 0x7f;
    n >>= 7;
    if ((n === 0 && (byte & 0x40) === 0) || (n === -1 && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function f64Bytes(x: number): number[] {
  return Array.from(new Uint8Array(new Float64Array([x]).buffer));
}

function f32Bytes(x: number): number[] {
  return Array.from(new Uint8Array(new Float32Array([x]).buffer));
}

function vec(items: number[][]): number[] {
  return [...uleb(items.length), ...items.flat()];
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(s: string): number[] {
  const bytes = Array.from(new TextEncoder().encode(s));
  return [...uleb(bytes.length), ...bytes];
}

/** memarg: alignment exponent and offset. */
const mem = (align: number, offset = 0) => [...uleb(align), ...uleb(offset)];
/** A SIMD instruction: prefix 0xfd, then the opcode as LEB128. */
const simd = (op: number) => [0xfd, ...uleb(op)];

/** The instructions the kernels use, by their text-format names. Each returns its bytes. */
export const op = {
  block: () => [0x02, 0x40],
  loop: () => [0x03, 0x40],
  if: () => [0x04, 0x40],
  else: () => [0x05],
  end: () => [0x0b],
  br: (depth: number) => [0x0c, ...uleb(depth)],
  brIf: (depth: number) => [0x0d, ...uleb(depth)],
  select: () => [0x1b],
  get: (local: number) => [0x20, ...uleb(local)],
  set: (local: number) => [0x21, ...uleb(local)],
  tee: (local: number) => [0x22, ...uleb(local)],
  i32Load: (offset = 0) => [0x28, ...mem(2, offset)],
  f32Load: (offset = 0) => [0x2a, ...mem(2, offset)],
  f64Load: (offset = 0) => [0x2b, ...mem(3, offset)],
  i32Store: (offset = 0) => [0x36, ...mem(2, offset)],
  f32Store: (offset = 0) => [0x38, ...mem(2, offset)],
  f64Store: (offset = 0) => [0x39, ...mem(3, offset)],
  i32Const: (n: number) => [0x41, ...sleb(n)],
  /** Small i64 constants only (|n| < 2^31): their signed LEB128 is the same as an i32's. */
  i64Const: (n: number) => [0x42, ...sleb(n)],
  f32Const: (x: number) => [0x43, ...f32Bytes(x)],
  f64Const: (x: number) => [0x44, ...f64Bytes(x)],
  i32Eqz: () => [0x45],
  i32LtU: () => [0x49],
  i32GeU: () => [0x4f],
  f32Gt: () => [0x5e],
  /** 1 where the operands differ, and where either is NaN (`x != x` is the NaN test). */
  f64Ne: () => [0x62],
  f64Lt: () => [0x63],
  f64Gt: () => [0x64],
  i32Add: () => [0x6a],
  i32Sub: () => [0x6b],
  i32Mul: () => [0x6c],
  i32Shl: () => [0x74],
  f64Add: () => [0xa0],
  f64Sub: () => [0xa1],
  f64Mul: () => [0xa2],
  f64Div: () => [0xa3],
  f32DemoteF64: () => [0xb6],
  f64PromoteF32: () => [0xbb],
  i32GtS: () => [0x4a],
  i32LtS: () => [0x48],
  i32GeS: () => [0x4e],
  i32Ne: () => [0x47],
  i32And: () => [0x71],
  i32ShrU: () => [0x76],
  f32Add: () => [0x92],
  f32Div: () => [0x95],
  f64Sqrt: () => [0x9f],
  f64ConvertI32S: () => [0xb7],
  /** Calls function `index` of the module (its place in the list given to encodeModule). */
  call: (index: number) => [0x10, ...uleb(index)],
  return: () => [0x0f],
  f32Mul: () => [0x94],
  // SIMD (v128)
  /** A constant f64x2 with both lanes `x` (one constant-pool load, where a splat would be an op per use). */
  f64x2Const: (x: number) => [...simd(0x0c), ...f64Bytes(x), ...f64Bytes(x)],
  /** A constant f32x4 with all four lanes `x` (rounded to fp32). */
  f32x4Const: (x: number) => [...simd(0x0c), ...[0, 1, 2, 3].flatMap(() => f32Bytes(x))],
  /** A constant i32x4 with all four lanes `n`. */
  i32x4Const: (n: number) => [...simd(0x0c), ...[0, 1, 2, 3].flatMap(() => Array.from(new Uint8Array(new Int32Array([n]).buffer)))],
  /** Byte i of the result = byte lanes[i] of the two operands (0–15 the first, 16–31 the second). */
  i8x16Shuffle: (lanes: number[]) => [...simd(0x0d), ...lanes],
  /** A constant v128 from its 16 bytes. */
  v128Const: (bytes: number[]) => [...simd(0x0c), ...bytes],
  f32x4ExtractLane: (lane: number) => [...simd(0x1f), lane],
  f32x4Splat: () => simd(0x13),
  f32x4Lt: () => simd(0x43),
  f32x4Nearest: () => simd(0x6a),
  i32x4Shl: () => simd(0xab),
  i32x4Add: () => simd(0xae),
  f32x4Abs: () => simd(0xe0),
  f32x4Neg: () => simd(0xe1),
  f32x4Sqrt: () => simd(0xe3),
  f32x4Div: () => simd(0xe7),
  /** IEEE-style min/max: a NaN lane gives NaN (pmin/pmax would drop it). */
  f32x4Min: () => simd(0xe8),
  f32x4Max: () => simd(0xe9),
  f32x4Gt: () => simd(0x44),
  f32x4Ge: () => simd(0x46),
  f32x4ConvertI32x4S: () => simd(0xfa),
  i32x4Sub: () => simd(0xb1),
  v128Not: () => simd(0x4d),
  v128Xor: () => simd(0x51),
  f32x4Add: () => simd(0xe4),
  f32x4Sub: () => simd(0xe5),
  f32x4Mul: () => simd(0xe6),
  /** Pseudo-min/max: b < a ? b : a and a < b ? b : a, one instruction each on x86 (a NaN a is kept). */
  f32x4Pmin: () => simd(0xea),
  f32x4Pmax: () => simd(0xeb),
  i32x4TruncSatF32x4S: () => simd(0xf8),
  i32x4Splat: () => simd(0x11),
  i32x4ExtractLane: (lane: number) => [...simd(0x1b), lane],
  i32x4Eq: () => simd(0x37),
  i32x4LtS: () => simd(0x39),
  i32x4GtS: () => simd(0x3b),
  v128Or: () => simd(0x50),
  /** (a & mask) | (b & ~mask), operands a, b, mask. */
  v128Bitselect: () => simd(0x52),
  v128Load: (offset = 0) => [...simd(0x00), ...mem(4, offset)],
  v128Store: (offset = 0) => [...simd(0x0b), ...mem(4, offset)],
  i64x2Splat: () => simd(0x12),
  f64x2Splat: () => simd(0x14),
  f64x2ExtractLane: (lane: number) => [...simd(0x21), lane],
  f64x2Lt: () => simd(0x49),
  f64x2Gt: () => simd(0x4a),
  f64x2Ge: () => simd(0x4c),
  v128And: () => simd(0x4e),
  v128AndNot: () => simd(0x4f),
  v128Store64Lane: (lane: number, offset = 0) => [...simd(0x5b), ...mem(3, offset), lane],
  v128Load64Zero: (offset = 0) => [...simd(0x5d), ...mem(3, offset)],
  f32x4DemoteF64x2Zero: () => simd(0x5e),
  f64x2PromoteLowF32x4: () => simd(0x5f),
  f64x2Nearest: () => simd(0x94),
  i64x2ExtendLowI32x4S: () => simd(0xc7),
  i64x2Shl: () => simd(0xcb),
  i64x2Add: () => simd(0xce),
  f64x2Add: () => simd(0xf0),
  f64x2Sub: () => simd(0xf1),
  f64x2Mul: () => simd(0xf2),
  f64x2Div: () => simd(0xf3),
  f64x2Max: () => simd(0xf5),
  f64x2Pmax: () => simd(0xf7),
  i32x4TruncSatF64x2SZero: () => simd(0xfc),
};

export interface FunctionSpec {
  name: string;
  params: ValType[];
  results: ValType[];
  /** Extra locals after the parameters, in order. */
  locals: ValType[];
  body: number[][];
}

/** A module of exported functions over one exported memory named `memory` (initially `pages` × 64 KiB). */
export function encodeModule(functions: FunctionSpec[], pages: number): Uint8Array<ArrayBuffer> {
  const types = functions.map((f) => [0x60, ...vec(f.params.map((t) => [t])), ...vec(f.results.map((t) => [t]))]);
  const code = functions.map((f) => {
    const locals = vec(f.locals.map((t) => [1, t]));
    const body = [...locals, ...f.body.flat(), 0x0b];
    return [...uleb(body.length), ...body];
  });
  const bytes = [
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...section(1, vec(types)),
    ...section(3, vec(functions.map((_, i) => uleb(i)))),
    ...section(5, vec([[0x00, ...uleb(pages)]])),
    ...section(7, vec([[...name('memory'), 0x02, 0], ...functions.map((f, i) => [...name(f.name), 0x00, ...uleb(i)])])),
    ...section(10, vec(code)),
  ];
  return Uint8Array.from(bytes);
}

/** Bytes of a WebAssembly memory page. */
export const PAGE_BYTES = 65536;

/**
 * The exports of a fresh instance of `bytes` (a module from encodeModule), or null where the engine
 * has no WebAssembly or rejects the module (no fixed-width SIMD): the caller keeps its JS path.
 * Compiled synchronously: these modules are a few KiB, under every engine's main-thread limit.
 */
export function instantiateModule<T>(bytes: Uint8Array<ArrayBuffer>): T | null {
  if (typeof WebAssembly !== 'object' || !WebAssembly.validate(bytes)) return null;
  return new WebAssembly.Instance(new WebAssembly.Module(bytes)).exports as unknown as T;
}

/** Grows `memory` to hold at least `bytes` (whole pages); throws the engine's RangeError when it refuses. */
export function growMemoryTo(memory: WebAssembly.Memory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
}
