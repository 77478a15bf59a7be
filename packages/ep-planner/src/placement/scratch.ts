/**
 * Typed arrays reused from one call to the next. Placement runs once per layer and EP group
 * (11,712 times for 61 layers on 192 groups of 32 ranks), each on a few hundred items: allocating a
 * dozen fresh typed arrays per call cost as much as the work itself. Arrays come back with exactly
 * the requested length (so `.length` loops stay right) and with stale contents: callers initialise
 * what they read.
 */
export function int32Scratch(cached: Int32Array, length: number): Int32Array {
  return cached.length === length ? cached : new Int32Array(length);
}

/** Float64 counterpart of int32Scratch. */
export function float64Scratch(cached: Float64Array, length: number): Float64Array {
  return cached.length === length ? cached : new Float64Array(length);
}
