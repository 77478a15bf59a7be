import { existsSync } from 'node:fs';
import { findNodePreset, listNodePresets, parseClusterSpec, type Cluster } from '@moge/ascend-hal';
import { closestName, ValidationError } from '@moge/core';
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
  refuseMisspeltNodePreset(presetPart, 'cluster spec');
  return parseClusterSpec(trimmed);
}

/**
 * A node preset name that names none but is a typo of one (`atlas800t-a2`, `hgx-h20`): refused with
 * the name meant, which a list of twelve presets leaves the reader to find. A name close to none is
 * left to the catalog's own error, which lists them all.
 */
export function refuseMisspeltNodePreset(name: string, subject: string): void {
  if (findNodePreset(name)) return;
  const meant = closestName(name.trim(), listNodePresets().flatMap((p) => [p.spec.name, ...p.aliases]));
  if (meant === undefined) return;
  throw new ValidationError(subject, [{ path: 'preset', received: name, expected: `a node preset; did you mean "${meant}"? (\`moge hw list\` lists them all)` }]);
}
