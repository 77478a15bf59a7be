/** SI inside: bytes, seconds, FLOP. These constants convert at the edges only. */
export const KiB = 1024;
export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;
export const TiB = 1024 ** 4;
export const KB = 1e3;
export const MB = 1e6;
export const GB = 1e9;
export const TB = 1e12;
/** Link speeds are quoted in bits per second; bytes/s = Gb/s × GBIT_PER_S_IN_BYTES. */
export const GBIT_PER_S_IN_BYTES = 1e9 / 8;
export const TERA = 1e12;

export function formatBytes(bytes: number): string {
  const abs = Math.abs(bytes);
  if (abs >= TiB) return `${(bytes / TiB).toFixed(2)} TiB`;
  if (abs >= GiB) return `${(bytes / GiB).toFixed(2)} GiB`;
  if (abs >= MiB) return `${(bytes / MiB).toFixed(2)} MiB`;
  if (abs >= KiB) return `${(bytes / KiB).toFixed(2)} KiB`;
  return `${bytes} B`;
}

export function formatSeconds(seconds: number): string {
  const abs = Math.abs(seconds);
  if (abs >= 1) return `${seconds.toFixed(3)} s`;
  if (abs >= 1e-3) return `${(seconds * 1e3).toFixed(3)} ms`;
  return `${(seconds * 1e6).toFixed(2)} µs`;
}

/** 1.23e12 bytes/s → "1.23 TB/s" (decimal units, as link and HBM bandwidths are quoted). */
export function formatRate(bytesPerSecond: number): string {
  if (bytesPerSecond >= TB) return `${(bytesPerSecond / TB).toFixed(2)} TB/s`;
  if (bytesPerSecond >= GB) return `${(bytesPerSecond / GB).toFixed(2)} GB/s`;
  return `${(bytesPerSecond / MB).toFixed(2)} MB/s`;
}

export function formatFlops(flopsPerSecond: number): string {
  if (flopsPerSecond >= 1e15) return `${(flopsPerSecond / 1e15).toFixed(2)} PFLOP/s`;
  if (flopsPerSecond >= 1e12) return `${(flopsPerSecond / 1e12).toFixed(1)} TFLOP/s`;
  return `${(flopsPerSecond / 1e9).toFixed(1)} GFLOP/s`;
}
