/**
 * The bits both softmax kernels (softmax-kernel.ts, softmax-f32-kernel.ts) write across a row whose Σ
 * is NaN: the positive quiet NaN. The arithmetic would leave NaNs of mixed signs and payloads there
 * (x86's default NaN is negative; an input NaN keeps its own), which the argmax kernels, comparing bit
 * patterns as i32, would rank by pattern. With one pattern they pick the group's first column: NaN
 * above every number, the lower index among NaNs, as in groupTopK and the JS path.
 */
export const CANONICAL_NAN_BITS = 0x7fc00000;
