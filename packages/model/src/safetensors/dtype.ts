/**
 * Element formats of safetensors files that hold float weights, and their conversion to and from
 * float32 (the compute format). BF16 and F16 round to nearest-even on the way down.
 */
export const SAFETENSORS_DTYPES = ['F32', 'F16', 'BF16', 'F64'] as const;
export type SafetensorsDType = (typeof SAFETENSORS_DTYPES)[number];

export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDType, number>> = { F32: 4, F16: 2, BF16: 2, F64: 8 };

export function isSafetensorsDType(d: unknown): d is SafetensorsDType {
  return typeof d === 'string' && (SAFETENSORS_DTYPES as readonly string[]).includes(d);
}

/**
 * The smallest magnitude that `dtype` stores as ±∞ (round to nearest even: halfway past the largest
 * finite value rounds up). A finite weight at or beyond it would be written as ∞ — and refused on
 * loading — so writers check it first.
 */
export const SAFETENSORS_OVERFLOW_AT: Readonly<Record<SafetensorsDType, number>> = {
  F32: Infinity,
  F64: Infinity,
  F16: 65520, // 65504 + half a last place (32 / 2)
  BF16: new Float32Array(new Uint32Array([0x7f7f8000]).buffer)[0]!, // 0x7f7f (max) + half a last place
};

/** Index of the first finite value of `data` that `dtype` cannot hold (it would become ±∞), or −1. */
export function firstOverflow(dtype: SafetensorsDType, data: Float32Array): number {
  const limit = SAFETENSORS_OVERFLOW_AT[dtype];
  if (limit === Infinity) return -1;
  for (let i = 0; i < data.length; i++) {
    const a = Math.abs(data[i]!);
    if (a >= limit && a !== Infinity) return i;
  }
  return -1;
}

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24;
  if (exp === 31) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

function floatToHalf(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00; // overflow → ∞
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    mant |= 0x800000; // subnormal half: shift the implicit bit in, round to nearest even
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rem = mant & ((1 << shift) - 1);
    let m = mant >>> shift;
    if (rem > half || (rem === half && m & 1)) m++;
    return sign | m;
  }
  const rem = mant & 0x1fff;
  mant >>>= 13;
  if (rem > 0x1000 || (rem === 0x1000 && mant & 1)) {
    mant++;
    if (mant === 0x400) {
      mant = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | mant;
}

function floatToBf16(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  if ((x & 0x7f800000) === 0x7f800000 && x & 0x7fffff) return ((x >>> 16) | 0x40) & 0xffff; // keep NaN a NaN
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Little-endian bytes of `count` elements of `dtype` → float32. */
export function decodeToFloat32(dtype: SafetensorsDType, bytes: Uint8Array, count: number): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out = new Float32Array(count);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(4 * i, true);
      break;
    case 'F64':
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(8 * i, true);
      break;
    case 'BF16':
      for (let i = 0; i < count; i++) {
        u32[0] = view.getUint16(2 * i, true) << 16;
        out[i] = f32[0]!;
      }
      break;
    case 'F16':
      for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
      break;
  }
  return out;
}

/** float32 → little-endian bytes of `dtype`. */
export function encodeFromFloat32(dtype: SafetensorsDType, data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * SAFETENSORS_DTYPE_BYTES[dtype]);
  const view = new DataView(out.buffer);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < data.length; i++) view.setFloat32(4 * i, data[i]!, true);
      break;
    case 'F64':
      for (let i = 0; i < data.length; i++) view.setFloat64(8 * i, data[i]!, true);
      break;
    case 'BF16':
      for (let i = 0; i < data.length; i++) view.setUint16(2 * i, floatToBf16(data[i]!), true);
      break;
    case 'F16':
      for (let i = 0; i < data.length; i++) view.setUint16(2 * i, floatToHalf(data[i]!), true);
      break;
  }
  return out;
}
