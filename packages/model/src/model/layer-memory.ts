import type { AllocationGroup, Backend, HostArray, Tensor } from '@moge/ascend-hal';

/**
 * The model's side of buffer recycling (Backend.collectAllocations / recycle): a layer's forward
 * activations die when that layer's backward has run, and a layer's backward temporaries die as soon
 * as it returns, so the model hands them back itself instead of leaving them to the garbage collector
 * (on the onnxruntime backend that removed most of a training step's collections). On a backend
 * without recycling these run `fn` and do nothing else.
 */
export function collectLayerAllocations<T>(b: Backend, fn: () => T): { result: T; group?: AllocationGroup } {
  return b.collectAllocations && b.recycle ? b.collectAllocations(fn) : { result: fn() };
}

/** Recycles `group` except `keep`; returns the kept buffers' group (undefined where nothing was collected). */
export function recycleLayerAllocations(b: Backend, group: AllocationGroup | undefined, keep: Iterable<Tensor | HostArray> = []): AllocationGroup | undefined {
  return group && b.recycle ? b.recycle(group, keep) : undefined;
}
