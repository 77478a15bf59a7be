import { existsSync } from 'node:fs';
import { findNodePreset, parseClusterSpec, type Cluster } from '@moge/ascend-hal';
import { readStructuredFile } from './io';

/**
 * `--cluster` takes `<node-preset>[:<devices>]` (`atlas-800i-a2:4`), inline JSON, or a JSON/YAML
 * cluster file. A preset name wins over a file of the same name; anything that is neither a preset
 * nor an existing file nor path-like is reported against the preset list, the likelier typo.
 */
export function resolveCluster(value: string): Cluster {
  const trimmed = value.trim();
  if (trimmed.startsWith('{')) return parseClusterSpec(trimmed);
  const colon = trimmed.lastIndexOf(':');
  const presetPart = colon < 0 ? trimmed : trimmed.slice(0, colon);
  if (findNodePreset(presetPart)) return parseClusterSpec(trimmed);
  if (existsSync(trimmed) || /[/\\]|\.(json|ya?ml)$/i.test(trimmed)) return parseClusterSpec(readStructuredFile(trimmed, '--cluster'), { file: trimmed });
  return parseClusterSpec(trimmed);
}

