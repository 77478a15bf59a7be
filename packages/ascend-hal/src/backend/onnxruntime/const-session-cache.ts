import { NativeSession, type NativeSessionOptions } from './ort-native';
import { OUTPUT } from './graphs';

interface Node {
  sessions: Map<string, NativeSession>;
  next: WeakMap<object, Node>;
}

/**
 * Sessions that hold constant tensors as initializers, cached per constant: keyed by the storage
 * arrays of the constants they hold (a reshape of a constant shares its storage, so it finds the
 * same session), then by layout. The keys are weak, so a session goes when its constants go — the
 * native session is released when the garbage collector frees its JS wrapper.
 */
export class ConstSessionCache {
  private readonly root = new WeakMap<object, Node>();
  private readonly options: NativeSessionOptions;
  /** Sessions built so far and the time spent building them (load + pre-packing), for benchmarks. */
  readonly stats = { built: 0, buildMs: 0 };

  constructor(options: NativeSessionOptions) {
    this.options = options;
  }

  /** The session over the constants `owners` with layout `key`, built from `build()` on first use. */
  get(owners: readonly object[], key: string, build: () => Uint8Array): NativeSession {
    let map = this.root;
    let entry: Node | undefined;
    for (const owner of owners) {
      entry = map.get(owner);
      if (!entry) {
        entry = { sessions: new Map(), next: new WeakMap() };
        map.set(owner, entry);
      }
      map = entry.next;
    }
    if (!entry) throw new RangeError('ConstSessionCache.get: at least one constant owns a session');
    let session = entry.sessions.get(key);
    if (!session) {
      const t0 = performance.now();
      session = new NativeSession(build(), [OUTPUT], this.options);
      this.stats.buildMs += performance.now() - t0;
      this.stats.built++;
      entry.sessions.set(key, session);
    }
    return session;
  }
}
