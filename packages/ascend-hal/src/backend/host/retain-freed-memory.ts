/**
 * Keeps the memory this process frees, for its next allocations, instead of returning it to the
 * operating system: glibc's `mallopt` with a large M_MMAP_THRESHOLD (big blocks come from the heap,
 * not from a fresh mmap each) and M_TRIM_THRESHOLD (the heap's free top is not handed back).
 *
 * Why: a training step or a batch-32 decode step allocates its large tensors (activations, logits)
 * afresh and frees them when the garbage collector runs. By default glibc maps such blocks anew and
 * unmaps them on free, so each step touches fresh pages, and every 4 KiB page is a fault. On the
 * project's VM a fault cost ≈ 13 µs: a fresh 16 MiB array took 50–64 ms to fill against 0.5 ms to
 * fill again. glibc raises its thresholds by itself as the process frees memory, but only
 * gradually: a moge-small training step (4 × 256 tokens, 1 thread) after 4 warm-up steps took 762 ms
 * and 4 297 faults without this policy against 610 ms and 7 faults with it; after 14, 604 ms and
 * 1 608 faults against 594 ms and 4 (tools/bench/retain-memory-ab.ts).
 *
 * The price: the process's resident memory stays at its peak (what it freed is reused, not
 * returned). Process-wide, like OpenBLAS's thread count; applied once. Only on Linux with glibc;
 * elsewhere it reports why not and changes nothing.
 */
import { firstLine, loadKoffi } from './koffi';

const M_TRIM_THRESHOLD = -1;
const M_MMAP_THRESHOLD = -3;
/** Blocks up to this size come from the heap; glibc before 2.35 caps the value at 32 MiB, hence the fallback. */
const MMAP_THRESHOLDS = [1 << 30, 32 << 20];
const NEVER_TRIM = 2 ** 31 - 1;

export type RetainFreedMemory = { ok: true; mmapThresholdBytes: number } | { ok: false; reason: string };

let applied: RetainFreedMemory | undefined;

/** Applies the policy once per process and returns what it did (or why it could not). */
export function retainFreedMemory(): RetainFreedMemory {
  if (applied) return applied;
  if (process.platform !== 'linux') return (applied = { ok: false, reason: `not Linux (${process.platform}): the allocator is left as it is` });
  const loaded = loadKoffi();
  if (!loaded.ok) return (applied = loaded);
  try {
    const mallopt = loaded.koffi.load('libc.so.6').func('int mallopt(int, int)');
    const threshold = MMAP_THRESHOLDS.find((bytes) => mallopt(M_MMAP_THRESHOLD, bytes) === 1);
    if (threshold === undefined) return (applied = { ok: false, reason: 'mallopt refused M_MMAP_THRESHOLD' });
    if (mallopt(M_TRIM_THRESHOLD, NEVER_TRIM) !== 1) return (applied = { ok: false, reason: 'mallopt refused M_TRIM_THRESHOLD' });
    return (applied = { ok: true, mmapThresholdBytes: threshold });
  } catch (e) {
    return (applied = { ok: false, reason: `no glibc mallopt: ${firstLine(e)}` });
  }
}
