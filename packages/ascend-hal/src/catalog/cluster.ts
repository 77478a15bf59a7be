import { z } from 'zod';
import { parseWith, toFieldIssues, ValidationError } from '@moge/core';
import { findChip, listChips } from './chips';
import { mergeOverrides } from './merge';
import { findNodePreset, unknownNodePresetIssue } from './nodes';
import { NodeSpecSchema, type Cluster, type NodeSpec } from './schemas';

/**
 * A cluster file (JSON/YAML): either a preset with optional overrides,
 * `{ preset: 'atlas-800i-a2', devices: 4, node: { interNode: { bandwidth: 50e9 } } }`,
 * or a full node description, `{ devices: 16, node: { name, chip, devicesPerNode, ... } }`.
 * In `node.chip` a chip preset name (`'ascend-910b'`) stands for its full spec.
 */
export const ClusterFileSchema = z
  .object({
    name: z.string().min(1).optional(),
    preset: z.string().min(1).optional(),
    devices: z.number().int().positive(),
    node: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((f) => f.preset !== undefined || f.node !== undefined, {
    message: 'a `preset` name or a full `node` description',
    path: ['preset'],
  });
export type ClusterFile = z.infer<typeof ClusterFileSchema>;

/**
 * Builds a cluster of `numDevices` devices of `node`. More devices than one node holds must fill
 * whole nodes, because every model downstream assumes identical nodes.
 */
export function makeCluster(node: NodeSpec, numDevices: number, name?: string): Cluster {
  // Safe integers only: past 2^53 a count is already rounded (`hgx-h200:9007199254740993` would be …992).
  if (!Number.isSafeInteger(numDevices) || numDevices < 1) {
    throw new ValidationError('cluster', [{ path: 'devices', received: numDevices, expected: `an integer from 1 to ${Number.MAX_SAFE_INTEGER}` }]);
  }
  if (numDevices > node.devicesPerNode && numDevices % node.devicesPerNode !== 0) {
    throw new ValidationError('cluster', [
      {
        path: 'devices',
        received: numDevices,
        expected: `at most ${node.devicesPerNode} or a multiple of ${node.devicesPerNode} (devices per ${node.name} node)`,
      },
    ]);
  }
  const devicesPerNode = Math.min(numDevices, node.devicesPerNode);
  return { name: name ?? `${node.name}:${numDevices}`, node, numDevices, devicesPerNode, numNodes: numDevices / devicesPerNode };
}

/** Where a cluster object came from: named in its errors, in overridden figures' sources and in its name. */
export interface ClusterSpecOptions {
  /** The file it was read from (`lab.yaml`). */
  file?: string;
}

function subjectOf(o: ClusterSpecOptions): string {
  return o.file === undefined ? 'cluster file' : `cluster file ${o.file}`;
}

/** In `node.chip` a chip preset name stands for its full spec; an unknown name is refused here. */
function resolveChipName(node: unknown, subject: string): unknown {
  if (typeof node !== 'object' || node === null) return node;
  const chip = (node as Record<string, unknown>).chip;
  if (typeof chip !== 'string') return node;
  const spec = findChip(chip);
  if (!spec) {
    const names = listChips().map((c) => c.name);
    throw new ValidationError(subject, [{ path: 'node.chip', received: chip, expected: `a chip preset (one of ${names.join(', ')}) or a full chip spec` }]);
  }
  return { ...node, chip: spec };
}

function parseClusterString(text: string): Cluster {
  const trimmed = text.trim();
  if (trimmed.startsWith('{')) {
    let value: unknown;
    try {
      value = JSON.parse(trimmed);
    } catch (e) {
      throw new ValidationError('cluster spec', [{ path: '(json)', received: trimmed, expected: `valid JSON (${(e as Error).message})` }]);
    }
    return parseClusterObject(value, {}, 'cluster spec (inline JSON)');
  }
  const colon = trimmed.lastIndexOf(':');
  const presetName = colon < 0 ? trimmed : trimmed.slice(0, colon);
  const devicesText = colon < 0 ? undefined : trimmed.slice(colon + 1);
  const node = findNodePreset(presetName);
  if (!node) {
    throw new ValidationError(
      'cluster spec',
      [unknownNodePresetIssue(presetName)],
      'write a cluster as <node-preset>:<devices>, e.g. atlas-800i-a2:4, or give a JSON/YAML file',
    );
  }
  if (devicesText === undefined) return makeCluster(node, node.devicesPerNode);
  const devices = /^\d+$/.test(devicesText) ? Number(devicesText) : Number.NaN;
  if (!Number.isSafeInteger(devices) || devices < 1) {
    throw new ValidationError('cluster spec', [{ path: 'devices', received: devicesText, expected: `an integer from 1 to ${Number.MAX_SAFE_INTEGER} after the colon` }]);
  }
  return makeCluster(node, devices);
}

function parseClusterObject(value: unknown, o: ClusterSpecOptions, subject = subjectOf(o)): Cluster {
  const file = parseWith(ClusterFileSchema, value, subject);
  let rawNode: unknown = file.node;
  let name = file.name;
  if (file.preset !== undefined) {
    const preset = findNodePreset(file.preset);
    if (!preset) {
      throw new ValidationError(subject, [unknownNodePresetIssue(file.preset)]);
    }
    rawNode = mergeOverrides(preset, resolveChipName(file.node, subject), o.file ?? 'cluster file');
    // The preset's name alone would claim the preset's figures: say that some were changed.
    if (name === undefined && file.node !== undefined && Object.keys(file.node).length > 0) {
      name = `${file.preset}:${file.devices} (with overrides${o.file === undefined ? '' : ` from ${o.file}`})`;
    }
  }
  const node = parseNodeSpec(resolveChipName(rawNode, subject), subject);
  return makeCluster(node, file.devices, name);
}

/**
 * Validates a node description; issues are reported under `node.<field>`, an unknown field at any
 * depth with the closest known field of its level.
 */
export function parseNodeSpec(value: unknown, subject = 'cluster file'): NodeSpec {
  const result = NodeSpecSchema.safeParse(value);
  if (result.success) return result.data;
  throw new ValidationError(subject, toFieldIssues(result.error, value, 'node', NodeSpecSchema));
}

/**
 * A cluster from `<node-preset>[:<devices>]` (`atlas-800i-a2:4`, `hgx-h200:4`, `atlas-800t-a2:6144`),
 * inline JSON, or an already-parsed JSON/YAML object (see ClusterFileSchema); `options.file` names
 * the file that object came from. Bad input throws a ValidationError naming the field.
 */
export function parseClusterSpec(input: unknown, options: ClusterSpecOptions = {}): Cluster {
  if (typeof input === 'string') return parseClusterString(input);
  return parseClusterObject(input, options);
}
