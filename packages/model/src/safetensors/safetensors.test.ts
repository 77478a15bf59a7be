import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FileFormatError } from '@moge/core';
import { decodeToFloat32, encodeFromFloat32, firstOverflow, SAFETENSORS_DTYPES } from './dtype';
import { buildHeader } from './format';
import { readSafetensorsFile, readSafetensorsHeader, writeSafetensorsFile } from './file';
import { goldenDir } from '../test-support/golden';

const dir = mkdtempSync(join(tmpdir(), 'moge-st-'));

describe('safetensors dtypes', () => {
  it('round-trips F32 and F64 exactly, BF16 and F16 within their precision (property)', () => {
    fc.assert(
      fc.property(fc.float32Array({ noNaN: true, noDefaultInfinity: true, minLength: 1, maxLength: 64, min: -60000, max: 60000 }), (a) => {
        for (const dtype of SAFETENSORS_DTYPES) {
          const back = decodeToFloat32(dtype, encodeFromFloat32(dtype, a), a.length);
          const rel = dtype === 'BF16' ? 2 ** -8 : dtype === 'F16' ? 2 ** -11 : 0;
          a.forEach((v, i) => {
            // Below the format's smallest normal the spacing is absolute (subnormals).
            const tol = rel * Math.abs(v) + (dtype === 'F16' ? 2 ** -24 : dtype === 'BF16' ? 2 ** -133 : 0);
            expect(Math.abs(back[i]! - v), `${dtype} ${v}`).toBeLessThanOrEqual(tol);
          });
        }
      }),
    );
  });

  it('rounds every float32 — NaN, ±∞, ±0, subnormals — to the nearest F16 / BF16 value, ties to even (property)', () => {
    // The stored 16-bit code h of x is right iff no neighbouring code of the same sign is nearer to x,
    // and on a tie h is even. ∞ counts as the next step past the largest finite value (IEEE overflow).
    const bits = new Uint32Array(1);
    const asFloat = new Float32Array(bits.buffer);
    const half = new Uint16Array(1);
    const magnitudeOf = (dtype: 'F16' | 'BF16', m: number): number => {
      const inf = dtype === 'F16' ? 0x7c00 : 0x7f80;
      if (m === inf) return dtype === 'F16' ? 65536 : 2 ** 128;
      half[0] = m;
      return decodeToFloat32(dtype, new Uint8Array(half.buffer), 1)[0]!;
    };
    // Any pattern; subnormals; exact ties of BF16 (low 16 bits 0x8000) and of F16 (low 13 bits 0x1000); specials.
    const patterns = fc.oneof(
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.integer({ min: 0, max: 0x00ffffff }),
      fc.integer({ min: 0, max: 0xffff }).map((hi) => ((hi << 16) | 0x8000) >>> 0),
      fc.integer({ min: 0, max: 0x7ffff }).map((hi) => ((hi << 13) | 0x1000) >>> 0),
      fc.constantFrom(0x7f800000, 0xff800000, 0x80000000, 0x7fc00000, 0xff800001, 0x477ff000, 0x7f7f8000),
    );
    fc.assert(
      fc.property(patterns, (pattern) => {
        bits[0] = pattern;
        const x = asFloat[0]!;
        expect(Object.is(decodeToFloat32('F32', encodeFromFloat32('F32', Float32Array.of(x)), 1)[0], x)).toBe(true);
        for (const dtype of ['F16', 'BF16'] as const) {
          const code = new DataView(encodeFromFloat32(dtype, Float32Array.of(x)).buffer).getUint16(0, true);
          const back = decodeToFloat32(dtype, encodeFromFloat32(dtype, Float32Array.of(x)), 1)[0]!;
          if (Number.isNaN(x)) {
            expect(Number.isNaN(back), `${dtype} NaN ${pattern.toString(16)}`).toBe(true);
            continue;
          }
          expect(code >> 15, `${dtype} sign of ${x}`).toBe(pattern >>> 31);
          if (!Number.isFinite(x)) {
            expect(back).toBe(x);
            continue;
          }
          const m = code & 0x7fff;
          const inf = dtype === 'F16' ? 0x7c00 : 0x7f80;
          expect(m, `${dtype} ${x}: a finite or ∞ code`).toBeLessThanOrEqual(inf);
          const a = Math.abs(x);
          const d = Math.abs(a - magnitudeOf(dtype, m));
          for (const n of [m - 1, m + 1]) {
            if (n < 0 || n > inf) continue;
            const dn = Math.abs(a - magnitudeOf(dtype, n));
            expect(d, `${dtype} ${x} → ${m.toString(16)}, neighbour ${n.toString(16)}`).toBeLessThanOrEqual(dn);
            if (d === dn) expect(m % 2, `${dtype} ${x}: a tie goes to the even code`).toBe(0);
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('writes and reads back through a file exactly what the codec stores, subnormals included (property)', () => {
    const file = join(dir, 'prop.safetensors');
    const finite = fc.float32Array({ noNaN: true, noDefaultInfinity: true, minLength: 0, maxLength: 40 });
    const tiny = fc.float32Array({ noNaN: true, min: Math.fround(-1e-38), max: Math.fround(1e-38), minLength: 1, maxLength: 40 });
    fc.assert(
      fc.property(finite, tiny, fc.constantFrom('F32', 'F16', 'BF16') as fc.Arbitrary<'F32' | 'F16' | 'BF16'>, (a, b, dtype) => {
        const limit = dtype === 'F16' ? 65504 : dtype === 'BF16' ? 3.38e38 : Infinity;
        const data = Float32Array.from([...a, ...b].filter((v) => Math.abs(v) <= limit));
        writeSafetensorsFile(file, [{ name: 't', shape: [data.length], data }], { dtype });
        const back = readSafetensorsFile(file).tensors.get('t')!;
        expect(back.shape).toEqual([data.length]);
        const codec = decodeToFloat32(dtype, encodeFromFloat32(dtype, data), data.length);
        back.data.forEach((v, i) => expect(Object.is(v, codec[i]), `${dtype} ${data[i]}`).toBe(true));
        if (dtype === 'F32') back.data.forEach((v, i) => expect(Object.is(v, data[i])).toBe(true));
      }),
      { numRuns: 60 },
    );
  });

  it('knows well-known half and bfloat16 bit patterns', () => {
    const enc = (d: 'F16' | 'BF16', v: number) => new DataView(encodeFromFloat32(d, Float32Array.of(v)).buffer).getUint16(0, true);
    expect(enc('F16', 1)).toBe(0x3c00);
    expect(enc('F16', -2)).toBe(0xc000);
    expect(enc('F16', 65504)).toBe(0x7bff);
    expect(enc('F16', 1e6)).toBe(0x7c00);
    expect(enc('BF16', 1)).toBe(0x3f80);
    expect(enc('BF16', -2)).toBe(0xc000);
  });
});

describe('safetensors dtype ranges', () => {
  it('flags exactly the finite values a dtype stores as ±∞ (property)', () => {
    // Magnitudes around each format's overflow edge, plus arbitrary floats.
    const nearEdges = fc.oneof(fc.float({ min: 65000, max: 66000, noNaN: true }), fc.float({ min: Math.fround(3.38e38), max: Math.fround(3.4e38), noNaN: true }), fc.float({ noNaN: true, noDefaultInfinity: true }));
    fc.assert(
      fc.property(nearEdges, fc.boolean(), (m, negative) => {
        const v = Math.fround(negative ? -m : m);
        for (const dtype of SAFETENSORS_DTYPES) {
          const stored = decodeToFloat32(dtype, encodeFromFloat32(dtype, Float32Array.of(v)), 1)[0]!;
          expect(firstOverflow(dtype, Float32Array.of(0, v)), `${dtype} ${v}`).toBe(Number.isFinite(stored) ? -1 : 1);
        }
      }),
      { numRuns: 2000 },
    );
    // ∞ itself is not an overflow: it was never finite.
    expect(firstOverflow('F16', Float32Array.of(Infinity))).toBe(-1);
  });
});

describe('safetensors files', () => {
  const tensors = [
    { name: 'a.weight', shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    { name: 'b', shape: [4], data: Float32Array.from([0.5, -1, 0.25, 8]) },
  ];

  it('writes and reads back F32, F16 and BF16, with metadata and 8-byte aligned header', () => {
    for (const dtype of ['F32', 'F16', 'BF16'] as const) {
      const file = join(dir, `rt-${dtype}.safetensors`);
      writeSafetensorsFile(file, tensors, { dtype, metadata: { format: 'pt' } });
      const bytes = readFileSync(file);
      expect(Number(bytes.readBigUInt64LE(0)) % 8).toBe(0);
      const back = readSafetensorsFile(file);
      expect(back.metadata).toEqual({ format: 'pt' });
      expect(back.tensors.get('a.weight')).toEqual({ shape: [2, 3], data: tensors[0]!.data });
      expect(back.tensors.get('b')!.data).toEqual(tensors[1]!.data);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('reads the golden checkpoint header (no __metadata__) and every tensor', () => {
    const file = join(goldenDir('tiny-moge-a'), 'model.safetensors');
    const h = readSafetensorsHeader(file);
    expect(h.entries.get('model.layers.0.mlp.router_scale')).toMatchObject({ dtype: 'F32', shape: [1, 8] });
    // Every entry against the header JSON parsed here by hand (u64 length, then the JSON itself).
    const bytes = readFileSync(file);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    const json = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
    const names = Object.keys(json).filter((n) => n !== '__metadata__');
    expect(names.length).toBeGreaterThan(10);
    expect([...h.entries.keys()].sort()).toEqual([...names].sort());
    expect(h.dataStart).toBe(8 + headerLength);
    const all = readSafetensorsFile(file);
    for (const name of names) {
      const { dtype, shape, data_offsets: [begin, end] } = json[name]!;
      expect(h.entries.get(name), name).toMatchObject({ dtype, shape, begin: 8 + headerLength + begin, end: 8 + headerLength + end });
      const count = shape.reduce((a, b) => a * b, 1);
      const t = all.tensors.get(name)!;
      expect(t.shape, name).toEqual(shape);
      expect(t.data.length, name).toBe(count);
      // F32 in the golden file: the values are the file's bytes.
      if (dtype === 'F32') expect(t.data, name).toEqual(new Float32Array(bytes.buffer.slice(bytes.byteOffset + 8 + headerLength + begin, bytes.byteOffset + 8 + headerLength + end)));
    }
  });

  it('names the tensor a truncated file cuts', () => {
    const file = join(dir, 'trunc.safetensors');
    writeSafetensorsFile(file, tensors);
    const bytes = readFileSync(file);
    writeFileSync(file, bytes.subarray(0, bytes.length - 3));
    expect(() => readSafetensorsFile(file)).toThrow(FileFormatError);
    expect(() => readSafetensorsFile(file)).toThrow(/tensor b: .*truncated/);
    writeFileSync(file, bytes.subarray(0, 5));
    expect(() => readSafetensorsFile(file)).toThrow(/shorter than the 8-byte header length/);
  });

  it('refuses, before writing anything, tensors that would make an unreadable or lossy file', () => {
    const file = join(dir, 'refused.safetensors');
    const one = (name: string, shape: number[], data: Float32Array) => ({ name, shape, data });
    const cases: [Parameters<typeof writeSafetensorsFile>[1], 'F32' | 'F16' | 'BF16', RegExp][] = [
      [[one('a', [1], Float32Array.of(1)), one('a', [1], Float32Array.of(2))], 'F32', /tensor a: given twice/],
      [[one('__metadata__', [1], Float32Array.of(1))], 'F32', /tensor __metadata__: the name is reserved/],
      [[one('neg', [-1, -1], Float32Array.of(1))], 'F32', /tensor neg: shape \[-1, -1\]: every dimension must be a whole number/],
      [[one('frac', [0.5, 2], Float32Array.of(1))], 'F32', /tensor frac: shape \[0\.5, 2\]/],
      [[one('ok', [1], Float32Array.of(1)), one('big', [3], Float32Array.of(1, -2, 70000))], 'F16', /tensor big: element 2 is 70000, beyond the range of F16.*save as BF16 or F32/],
      [[one('huge', [2], Float32Array.of(3e38, 3.4e38))], 'BF16', /tensor huge: element 1 is .*beyond the range of BF16.*save as F32/],
      [[one('a', [1], Float32Array.of(1))], 'bf16' as 'BF16', /dtype "bf16" is not one this writer stores \(expected F32, F16, BF16, F64\)/],
    ];
    for (const [tensors, dtype, message] of cases) {
      expect(() => writeSafetensorsFile(file, tensors, { dtype })).toThrow(FileFormatError);
      expect(() => writeSafetensorsFile(file, tensors, { dtype })).toThrow(message);
      expect(existsSync(file)).toBe(false);
    }
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('names a directory given where a safetensors file is read or written', () => {
    const folder = join(dir, 'not-a-file.safetensors');
    mkdirSync(folder, { recursive: true });
    expect(() => readSafetensorsFile(folder)).toThrow(/not-a-file\.safetensors: not a file \(a directory\?\)/);
    expect(() => writeSafetensorsFile(folder, tensors)).toThrow(/not-a-file\.safetensors: is a directory; give a file path/);
  });

  it('refuses a tensor named twice in the header (JSON.parse would keep one of them silently)', () => {
    const file = join(dir, 'twice.safetensors');
    const withText = (json: string, dataBytes: number) => {
      const text = Buffer.from(json);
      const out = Buffer.alloc(8 + text.length + dataBytes);
      out.writeBigUInt64LE(BigInt(text.length), 0);
      text.copy(out, 8);
      writeFileSync(file, out);
    };
    const entry = (b: number) => `{"dtype":"F32","shape":[1],"data_offsets":[${b},${b + 4}]}`;
    withText(`{"a":${entry(0)},"a":${entry(0)}}`, 4);
    expect(() => readSafetensorsFile(file)).toThrow(/tensor a: named twice in the header/);
    withText(`{"a":${entry(0)}, "b" : ${entry(4)},\n "a"\t:${entry(4)}}`, 8);
    expect(() => readSafetensorsFile(file)).toThrow(/tensor a: named twice in the header/);
    // Names and metadata that only look alike: escaped quotes, nested keys, a key-like string value.
    withText(`{"__metadata__":{"k":"\\"a\\":","a":"x"},"a":${entry(0)},"a\\"":${entry(4)}}`, 8);
    expect([...readSafetensorsFile(file).tensors.keys()].sort()).toEqual(['a', 'a"']);
  });

  it('refuses corrupt headers: bad JSON, wrong byte counts, holes, unknown dtypes', () => {
    const file = join(dir, 'corrupt.safetensors');
    const withHeader = (header: object, dataBytes: number) => {
      const json = Buffer.from(JSON.stringify(header));
      const out = Buffer.alloc(8 + json.length + dataBytes);
      out.writeBigUInt64LE(BigInt(json.length), 0);
      json.copy(out, 8);
      writeFileSync(file, out);
    };
    // What the reference reader accepts: metadata spelled null, entries listed out of data order, zero-size tensors.
    withHeader({ __metadata__: null, b: { dtype: 'F32', shape: [1], data_offsets: [4, 8] }, z: { dtype: 'F16', shape: [0, 3], data_offsets: [4, 4] }, a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8);
    const lenient = readSafetensorsFile(file);
    expect(lenient.metadata).toEqual({});
    expect([...lenient.tensors].map(([n, t]) => [n, t.shape, t.data.length])).toEqual([['b', [1], 1], ['z', [0, 3], 0], ['a', [1], 1]]);
    withHeader({ __metadata__: { step: 3 } }, 0);
    expect(() => readSafetensorsFile(file)).toThrow(/__metadata__ must map strings to strings/);
    withHeader({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8);
    expect(() => readSafetensorsFile(file)).toThrow(/tensor x: data_offsets \[0, 8\] hold 8 bytes.*needs 12/);
    withHeader({ x: { dtype: 'I8', shape: [4], data_offsets: [0, 4] } }, 4);
    expect(() => readSafetensorsFile(file)).toThrow(/tensor x: dtype I8 is not supported/);
    withHeader({ x: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, 8);
    expect(() => readSafetensorsFile(file)).toThrow(/tensor x: a hole of 4 bytes/);
    withHeader({ x: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, 8);
    expect(() => readSafetensorsFile(file)).toThrow(/4 bytes after the last tensor/);
    const header = buildHeader(tensors, 'F32');
    header[10] = 0xff;
    writeFileSync(file, header);
    expect(() => readSafetensorsFile(file)).toThrow(/not valid UTF-8 JSON/);
    const nan = join(dir, 'nan.safetensors');
    writeSafetensorsFile(nan, [{ name: 'n', shape: [2], data: Float32Array.of(1, NaN) }]);
    expect(() => readSafetensorsFile(nan)).toThrow(/tensor n: element 1 is NaN/);
  });

  it('says an F64 value beyond float32 is out of range, not corrupt', () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-f64-'));
    const file = join(dir, 'big.safetensors');
    const json = Buffer.from(JSON.stringify({ x: { dtype: 'F64', shape: [2], data_offsets: [0, 16] } }).padEnd(64, ' '));
    const data = Buffer.alloc(16);
    data.writeDoubleLE(1, 0);
    data.writeDoubleLE(1e300, 8);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(json.length));
    writeFileSync(file, Buffer.concat([len, json, data]));
    expect(() => readSafetensorsFile(file)).toThrow(/tensor x: element 1 is 1e\+300, beyond float32's range/);
    expect(() => readSafetensorsFile(file)).not.toThrow(/corrupt/);
    data.writeDoubleLE(NaN, 8);
    writeFileSync(file, Buffer.concat([len, json, data]));
    expect(() => readSafetensorsFile(file)).toThrow(/tensor x: element 1 is NaN \(corrupt data\?\)/);
  });
});
