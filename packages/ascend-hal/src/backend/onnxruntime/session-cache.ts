import { NativeSession, type NativeSessionOptions } from './ort-native';
import { OUTPUT } from './graphs';

/**
 * Sessions keyed by (op, ranks, attributes, group count). Graph sizes are symbolic, so the number
 * of keys stays small (a handful of matmul layouts plus one per expert count); a session is built
 * once, on first use, and lives as long as the backend.
 */
export class SessionCache {
  private readonly sessions = new Map<string, NativeSession>();
  private readonly options: NativeSessionOptions;

  constructor(options: NativeSessionOptions) {
    this.options = options;
  }

  /** The session of `key`, built from `build()` on first use; `outputs` names what a run fetches. */
  get(key: string, build: () => Uint8Array, outputs: readonly string[] = [OUTPUT]): NativeSession {
    let session = this.sessions.get(key);
    if (!session) {
      session = new NativeSession(build(), outputs, this.options);
      this.sessions.set(key, session);
    }
    return session;
  }

  get size(): number {
    return this.sessions.size;
  }

  /** Releases every native session; the cache rebuilds on the next call. */
  clear(): void {
    for (const s of this.sessions.values()) s.dispose();
    this.sessions.clear();
  }
}
