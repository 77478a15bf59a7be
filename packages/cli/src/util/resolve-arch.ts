import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { closestName, MoeArchSchema, MogeError, parseWith, type MoeArch } from '@moge/core';
import { archFromHfConfig, getPreset, HF_MODEL_TYPE, isPresetName, listPresets, looksLikeHfConfig } from '@moge/model';
import { ArchRangesSchema, type ArchRanges } from '@moge/sim';
import { readStructuredFile } from './io';

/** The help text of every option or argument that `resolveArch` reads: the forms it takes, presets listed. */
export const ARCH_HELP = `preset (${listPresets().join(', ')}), MoeArch JSON/YAML file, HF config.json or model directory`;

/** `; did you mean "<preset>"?` for a name that is a typo of a model preset, else nothing. */
function presetSuggestion(name: string): string {
  const meant = closestName(name, listPresets());
  return meant === undefined ? '' : `; did you mean "${meant}"?`;
}

/** `--preset` of train: a model preset name, refused by flag with the name meant before any work. */
export function assertPresetFlag(name: string | undefined): void {
  if (name === undefined || isPresetName(name)) return;
  throw new MogeError('E_BAD_FLAG', `--preset ${name}: not a model preset (${listPresets().join(', ')})${presetSuggestion(name)}`);
}

/**
 * `--arch`/`--model` values: a preset name (`pangu-pro-moe`), a MoeArch JSON/YAML file, an HF
 * `config.json` (recognised by `model_type` or `hidden_size`), or a model directory holding one.
 * Errors name the value and, for files, every bad field.
 */
export function resolveArch(value: string): MoeArch {
  if (isPresetName(value)) return getPreset(value);
  let path = value;
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'config.json');
  if (!existsSync(path)) {
    // A bare name is a preset with a typo more often than a missing file: say which one was meant.
    const meant = /[/\\.]/.test(value) ? '' : presetSuggestion(value);
    throw new MogeError('E_NO_ARCH', `architecture "${value}": not a preset (${listPresets().join(', ')}) and no such file${meant}`);
  }
  const json = readStructuredFile(path);
  if (looksLikeHfConfig(json)) {
    refuseForeignModelType(json as Record<string, unknown>, path);
    return archFromHfConfig(json, `HF config (${path})`);
  }
  return parseWith(MoeArchSchema, json, `architecture (${path})`);
}

/**
 * An HF config of another family (llama, qwen2_moe, deepseek_v3, …): one line saying what moge reads
 * and how to describe that model instead — the schema's answer was "model_type: expected PanguProMoE"
 * followed by every Pangu field the other family names differently, which reads like a broken file.
 */
function refuseForeignModelType(json: Record<string, unknown>, path: string): void {
  const type = json.model_type;
  if (type === undefined || type === HF_MODEL_TYPE) return;
  throw new MogeError(
    'E_HF_MODEL_TYPE',
    `${path}: model_type ${JSON.stringify(type)} is not a Pangu Pro MoE config (model_type "${HF_MODEL_TYPE}"), the Hugging Face family moge reads; describe this model as a MoeArch JSON/YAML file (numLayers, hiddenSize, numHeads, numKvHeads, headDim, vocabSize, denseFfnSize, numExperts, …) or start from a preset (${listPresets().join(', ')})`,
  );
}

/**
 * `--arch` of the searches: what `resolveArch` takes (one architecture), or a ranges file
 * `{ base, vary, totalParams }` whose base is a preset or an arch object. A value that is neither
 * gets `resolveArch`'s error, which lists the presets.
 */
export function resolveArchOrRanges(value: string): { arch: MoeArch; ranges?: undefined } | { arch?: undefined; ranges: ArchRanges } {
  if (isPresetName(value) || !existsSync(value) || statSync(value).isDirectory()) return { arch: resolveArch(value) };
  const raw = readStructuredFile(value);
  if (typeof raw !== 'object' || raw === null || !('vary' in raw || 'base' in raw)) return { arch: resolveArch(value) };
  const withBase = { ...(raw as Record<string, unknown>) };
  if (typeof withBase.base === 'string') withBase.base = resolveArch(withBase.base);
  return { ranges: parseWith(ArchRangesSchema, withBase, `architecture ranges (${value})`) };
}
