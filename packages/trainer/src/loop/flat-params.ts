/**
 * All parameters in one flat fp32 buffer, in parameter order, so gradients cross workers as one
 * collective and the optimizer sees views (subarrays) named like the model's parameters.
 */
export interface ParamSlot {
  name: string;
  shape: number[];
  offset: number;
  size: number;
}

export interface FlatLayout {
  slots: ParamSlot[];
  total: number;
}

export function flatLayout(specs: readonly { name: string; shape: readonly number[] }[]): FlatLayout {
  const slots: ParamSlot[] = [];
  let offset = 0;
  for (const s of specs) {
    const size = s.shape.reduce((a, b) => a * b, 1);
    slots.push({ name: s.name, shape: [...s.shape], offset, size });
    offset += size;
  }
  return { slots, total: offset };
}

/** name → view into `flat`. */
export function views(layout: FlatLayout, flat: Float32Array): Map<string, Float32Array> {
  return new Map(layout.slots.map((s) => [s.name, flat.subarray(s.offset, s.offset + s.size)]));
}
