import { ValidationError, capIssues, type FieldIssue, type MoeArch } from '@moge/core';
import { EXPERT_PROJECTIONS, paramSpecs, stackedExpertName } from './param-specs';

/** A host tensor: row-major float32 data and its shape. */
export interface HostTensor {
  shape: number[];
  data: Float32Array;
}

const STACKED = /^model\.layers\.(\d+)\.mlp\.experts\.(gate_proj|up_proj|down_proj)\.weight$/;

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** The HF tensor names and shapes of `arch`, in checkpoint order (experts one by one). */
export function hfTensorShapes(arch: MoeArch): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const spec of paramSpecs(arch)) {
    const m = STACKED.exec(spec.name);
    if (!m) {
      out.set(spec.name, spec.shape);
      continue;
    }
    const [, layer, proj] = m;
    for (let e = 0; e < spec.shape[0]!; e++) out.set(`model.layers.${layer}.mlp.experts.${e}.${proj}.weight`, spec.shape.slice(1));
  }
  return out;
}

/** Splits the stacked expert tensors into the per-expert tensors of an HF checkpoint. */
export function toHfTensors(arch: MoeArch, params: ReadonlyMap<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const spec of paramSpecs(arch)) {
    const t = params.get(spec.name);
    if (!t) throw new ValidationError('model parameters', [{ path: spec.name, expected: `a tensor of shape [${spec.shape.join(', ')}]` }]);
    const m = STACKED.exec(spec.name);
    if (!m) {
      out.set(spec.name, t);
      continue;
    }
    const [, layer, proj] = m;
    const per = spec.shape[1]! * spec.shape[2]!;
    for (let e = 0; e < spec.shape[0]!; e++) {
      out.set(`model.layers.${layer}.mlp.experts.${e}.${proj}.weight`, { shape: spec.shape.slice(1), data: t.data.subarray(e * per, (e + 1) * per) });
    }
  }
  return out;
}

/** How many tensor issues an error lists: a checkpoint of another model has one per expert tensor (thousands). */
export const MAX_LISTED_TENSOR_ISSUES = 20;

/** The first MAX_LISTED_TENSOR_ISSUES issues and one line counting the rest (the first ones show the cause). */
export function capTensorIssues(issues: FieldIssue[]): FieldIssue[] {
  return capIssues(issues, MAX_LISTED_TENSOR_ISSUES, (rest, total) => ({
    path: '…',
    expected: `${rest} more tensor${rest === 1 ? '' : 's'} of the same kinds (${total} in all); the first ones show the cause`,
  }));
}

/**
 * Checks an HF tensor set against `arch` — every tensor present, no unknown ones, every shape
 * exact — then stacks the experts. All problems are reported together, each naming its tensor.
 */
export function fromHfTensors(arch: MoeArch, hf: ReadonlyMap<string, HostTensor>, subject = 'checkpoint tensors'): Map<string, HostTensor> {
  const expected = hfTensorShapes(arch);
  const issues: FieldIssue[] = [];
  for (const [name, shape] of expected) {
    const t = hf.get(name);
    if (!t) issues.push({ path: name, expected: `a tensor of shape [${shape.join(', ')}] (missing)` });
    else if (!sameShape(t.shape, shape)) issues.push({ path: name, received: t.shape, expected: `shape [${shape.join(', ')}]` });
  }
  for (const name of hf.keys()) {
    if (!expected.has(name)) issues.push({ path: name, expected: 'no such tensor in this architecture (unknown name)' });
  }
  if (issues.length > 0) throw new ValidationError(subject, capTensorIssues(issues));
  return stackHfTensors(arch, (name) => hf.get(name)!);
}

/**
 * The parameters of `arch` in the stacked layout, from a source of HF tensors already checked to
 * exist with the right shapes. `read` is called once per HF tensor, in checkpoint order, and each
 * expert is copied straight into its stacked buffer — so a reader that loads tensors on demand
 * holds the weights plus one tensor, never a second copy of every expert.
 */
export function stackHfTensors(arch: MoeArch, read: (name: string) => HostTensor): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const spec of paramSpecs(arch)) {
    const m = STACKED.exec(spec.name);
    if (!m) {
      out.set(spec.name, read(spec.name));
      continue;
    }
    const [, layer, proj] = m;
    const per = spec.shape[1]! * spec.shape[2]!;
    const data = new Float32Array(spec.shape[0]! * per);
    for (let e = 0; e < spec.shape[0]!; e++) data.set(read(`model.layers.${layer}.mlp.experts.${e}.${proj}.weight`).data, e * per);
    out.set(spec.name, { shape: spec.shape, data });
  }
  return out;
}

export { EXPERT_PROJECTIONS, stackedExpertName };
