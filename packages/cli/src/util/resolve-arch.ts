import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MoeArchSchema, MogeError, parseWith, type MoeArch } from '@moge/core';
import { archFromHfConfig, getPreset, HF_MODEL_TYPE, HF_PLANNING_MODEL_TYPES, isHfPlanningModelType, isPresetName, listPresets, looksLikeHfConfig, presetSuggestion, readHfArch } from '@moge/model';
import { ArchRangesSchema, type ArchRanges } from '@moge/sim';
import { readStructuredFile } from './io';

/** The help text of every option or argument that `resolveArch` reads: the forms it takes, presets listed. */
export const ARCH_HELP = `preset (${listPresets().join(', ')}), MoeArch JSON/YAML file, HF config.json (${HF_PLANNING_MODEL_TYPES.join(', ')}) or model directory`;

/** `--preset` of train: a model preset name, refused by flag with the name meant before any work. */
export function assertPresetFlag(name: string | undefined): void {
  if (name === undefined || isPresetName(name)) return;
  throw new MogeError('E_BAD_FLAG', `--preset ${name}: not a model preset (${listPresets().join(', ')})${presetSuggestion(name)}`);
}

/** How `resolveArch` reads an HF config.json. */
export interface ResolveArchOptions {
  /**
   * The architecture of a model to build or run (`model init`, `train`): an HF config must be
   * PanguProMoE, the one family with a runnable model. Otherwise (planning: `model info`, `sim`,
   * `mem`) every family of `HF_PLANNING_MODEL_TYPES` is read.
   */
  runnable?: boolean;
}

/**
 * `--arch`/`--model` values: a preset name (`pangu-pro-moe`), a MoeArch JSON/YAML file, an HF
 * `config.json` (recognised by `model_type` or `hidden_size`), or a model directory holding one.
 * Errors name the value and, for files, every bad field. An HF config of another family than
 * PanguProMoE (deepseek_v3, qwen3_moe, mixtral, llama, …) is read as an architecture for planning,
 * with `notes` on what `MoeArch` cannot state (one line each).
 */
export function resolveArchWithNotes(value: string, options: ResolveArchOptions = {}): { arch: MoeArch; notes: string[] } {
  if (isPresetName(value)) return { arch: getPreset(value), notes: [] };
  let path = value;
  if (existsSync(path) && statSync(path).isDirectory()) path = join(path, 'config.json');
  if (!existsSync(path)) {
    // A bare name is a preset with a typo more often than a missing file: say which one was meant.
    const meant = /[/\\.]/.test(value) ? '' : presetSuggestion(value);
    throw new MogeError('E_NO_ARCH', `architecture "${value}": not a preset (${listPresets().join(', ')}) and no such file${meant}`);
  }
  const json = readStructuredFile(path);
  if (looksLikeHfConfig(json)) {
    refuseForeignModelType(json as Record<string, unknown>, path, options.runnable === true);
    const subject = `HF config (${path})`;
    if (options.runnable) return { arch: archFromHfConfig(json, subject), notes: [] };
    const { arch, notes } = readHfArch(json, subject);
    return { arch, notes: notes.map((n) => `${path}: ${n}`) };
  }
  return { arch: parseWith(MoeArchSchema, json, `architecture (${path})`), notes: [] };
}

/**
 * `resolveArchWithNotes`, its notes printed on stderr (`note: <file>: <model_type> <field>: …`), so
 * that what a planning figure leaves out of another family's config is said, not dropped.
 */
export function resolveArch(value: string, options: ResolveArchOptions = {}): MoeArch {
  const { arch, notes } = resolveArchWithNotes(value, options);
  for (const note of notes) process.stderr.write(`note: ${note}\n`);
  return arch;
}

/**
 * An HF config of a family moge does not read (gemma, phi3, …), or of one it reads for planning only
 * where a runnable model is wanted: one line saying what moge reads and how to describe that model
 * instead — the schema's answer would list every field the other family names differently.
 */
function refuseForeignModelType(json: Record<string, unknown>, path: string, runnable: boolean): void {
  const type = json.model_type;
  if (type === undefined || type === HF_MODEL_TYPE) return;
  if (runnable && isHfPlanningModelType(type)) {
    throw new MogeError(
      'E_HF_MODEL_TYPE',
      `${path}: model_type ${JSON.stringify(type)} is read as an architecture for planning only (moge model info, sim, mem); the model moge builds and runs is Pangu Pro MoE (model_type "${HF_MODEL_TYPE}"): give its config.json, a MoeArch JSON/YAML file or a preset (${listPresets().join(', ')})`,
    );
  }
  if (isHfPlanningModelType(type)) return;
  throw new MogeError(
    'E_HF_MODEL_TYPE',
    `${path}: model_type ${JSON.stringify(type)} is not a Hugging Face family moge reads (${HF_PLANNING_MODEL_TYPES.join(', ')}); describe this model as a MoeArch JSON/YAML file (numLayers, hiddenSize, numHeads, numKvHeads, headDim, vocabSize, denseFfnSize, numExperts, …) or start from a preset (${listPresets().join(', ')})`,
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
