import { createRequire } from 'node:module';

/** The part of koffi (an optional dependency: a C foreign-function interface) the HAL uses. */
export interface KoffiLib {
  func(signature: string): (...args: unknown[]) => unknown;
}
export interface Koffi {
  load(path: string): KoffiLib;
}

export const firstLine = (e: unknown) => String((e as Error).message).split('\n')[0];

/** koffi, or why it did not load (it is optional: a platform without its prebuilt binary goes without). */
export function loadKoffi(): { ok: true; koffi: Koffi } | { ok: false; reason: string } {
  try {
    return { ok: true, koffi: createRequire(import.meta.url)('koffi') as Koffi };
  } catch (e) {
    return { ok: false, reason: `koffi (optional dependency) did not load: ${firstLine(e)}` };
  }
}
