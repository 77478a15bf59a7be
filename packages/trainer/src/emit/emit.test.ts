import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ParallelPlanSchema, ValidationError, type ParallelPlanInput } from '@moge/core';
import { getPreset } from '@moge/model';
import { buildLaunchArgs, type EmitOptions, type Engine } from './launch-args';
import { flatArgs, renderLaunchScript } from './launch-script';

// Pangu Pro MoE's final training layout (arXiv 2505.21411): TP8 / EP2 / CP1 / PP5 / VPP5, 48 + 2 noop layers.
const panguPlan = ParallelPlanSchema.parse({
  tp: 8, ep: 2, cp: 1, pp: 5, vpp: 5, dp: 2, noopLayers: 2, sequenceParallel: true,
  microBatchSize: 1, globalBatchSize: 60, seqLength: 4096, recompute: ['activation', 'norm', 'permute'], swap: ['attention'],
});

// The same model on Megatron-LM, which has no no-op layers and so cannot pad 48 layers to PP5 × VPP5: VPP 1.
const panguPlanVpp1 = ParallelPlanSchema.parse({ ...panguPlan, vpp: 1 });

const valueOf = (args: string[], name: string) => {
  const i = args.indexOf(name);
  return i < 0 ? undefined : args[i + 1];
};
/** The values after a multi-valued flag, up to the next flag. */
const valuesOf = (args: string[], name: string) => {
  const i = args.indexOf(name);
  if (i < 0) return [];
  const rest = args.slice(i + 1);
  const end = rest.findIndex((a) => a.startsWith('--'));
  return end < 0 ? rest : rest.slice(0, end);
};
const emit = (preset: string, plan: ParallelPlanInput, engine: Engine, options: Omit<EmitOptions, 'engine'> = {}) =>
  buildLaunchArgs(getPreset(preset), ParallelPlanSchema.parse(plan), { ...options, engine });
/** The issues of the ValidationError `f` throws (fails the test when it throws nothing or something else). */
const issuesOf = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return (e as ValidationError).issues;
  }
  throw new Error('expected a ValidationError');
};

describe('launch emitters', () => {
  it('MindSpeed-LLM: the plan and the model map to their flags, MoGE limits are stated', () => {
    const l = buildLaunchArgs(getPreset('pangu-pro-moe'), panguPlan, { engine: 'mindspeed' });
    const args = flatArgs(l);
    expect(valueOf(args, '--tensor-model-parallel-size')).toBe('8');
    expect(valueOf(args, '--pipeline-model-parallel-size')).toBe('5');
    expect(valueOf(args, '--num-layers')).toBe('50');
    expect(valueOf(args, '--num-layers-per-virtual-pipeline-stage')).toBe('2');
    expect(valueOf(args, '--expert-model-parallel-size')).toBe('2');
    expect(valueOf(args, '--num-experts')).toBe('64');
    expect(valueOf(args, '--moe-router-topk')).toBe('8');
    expect(valueOf(args, '--moe-token-dispatcher-type')).toBe('alltoall');
    expect(valueOf(args, '--noop-layers')).toBe('48,49');
    expect(args).toEqual(expect.arrayContaining(['--moe-grouped-gemm', '--sequence-parallel', '--recompute-activation-function', '--recompute-norm', '--swap-attention']));
    expect(l.unsupported.join('\n')).toMatch(/MoGE router/);
    expect(l.unsupported.join('\n')).toMatch(/router_scale/);
    expect(l.unsupported.join('\n')).toMatch(/recompute of permute/);
    expect(l.worldSize).toBe(8 * 2 * 5);
    expect(l.nodes).toBe(10);
  });

  it('Megatron-LM: no swap, said so; recompute modules by name', () => {
    const l = buildLaunchArgs(getPreset('pangu-pro-moe'), panguPlanVpp1, { engine: 'megatron' });
    const args = flatArgs(l);
    expect(args).not.toContain('--noop-layers');
    expect(valuesOf(args, '--recompute-modules')).toEqual(['moe_act', 'layernorm']);
    expect(l.unsupported.join('\n')).toMatch(/activation swap/);
    expect(valueOf(args, '--tokenizer-type')).toBe('HuggingFaceTokenizer');
  });

  it('full-layer recompute and a group-limited router use the engine flags', () => {
    const arch = { ...getPreset('pangu-ultra-moe'), router: 'group-limited' as const, routerTopGroups: 4 };
    const plan = ParallelPlanSchema.parse({ tp: 8, pp: 16, ep: 4, dp: 4, noopLayers: 3, sequenceParallel: true, recompute: ['layer'], recomputeNumLayers: 2, globalBatchSize: 64 });
    const args = flatArgs(buildLaunchArgs(arch, plan, { engine: 'megatron' }));
    expect(valueOf(args, '--recompute-granularity')).toBe('full');
    // The first 2 layers of each chunk, whole: Megatron's block method ('uniform' would recompute all, 2 at a time).
    expect(valueOf(args, '--recompute-method')).toBe('block');
    expect(valueOf(args, '--recompute-num-layers')).toBe('2');
    const all = flatArgs(buildLaunchArgs(arch, { ...plan, recomputeNumLayers: undefined }, { engine: 'megatron' }));
    expect([valueOf(all, '--recompute-method'), valueOf(all, '--recompute-num-layers')]).toEqual(['uniform', '1']);
    const none = flatArgs(buildLaunchArgs(arch, { ...plan, recomputeNumLayers: 0 }, { engine: 'megatron' }));
    expect(none.filter((a) => a.startsWith('--recompute'))).toEqual([]);
    expect(valueOf(args, '--moe-router-group-topk')).toBe('4');
    expect(valueOf(args, '--moe-layer-freq')).toBe('([0]*3+[1]*58)');
  });

  it('group-limited routing whose group score the engine computes otherwise is stated, not hidden', () => {
    // Megatron-core scores a group by its best topK / groupTopk experts; this model (DeepSeek-V3's rule) by its best two.
    const arch = (routerTopGroups: number) => ({ ...getPreset('pangu-ultra-moe'), router: 'group-limited' as const, routerTopGroups });
    const plan = ParallelPlanSchema.parse({ pp: 1, noopLayers: 0, ep: 8, dp: 8, globalBatchSize: 64 });
    for (const engine of ['megatron', 'mindspeed'] as const) {
      expect(buildLaunchArgs(arch(4), plan, { engine }).unsupported.join('\n')).not.toMatch(/group-limited/); // 8 / 4 = 2: the same groups
      const eight = buildLaunchArgs(arch(8), plan, { engine });
      expect(valueOf(flatArgs(eight), '--moe-router-group-topk')).toBe('8');
      expect(eight.unsupported.join('\n')).toMatch(/group-limited routing: .*8 \/ 8 → 1 expert score\(s\).*by its best 2/);
      expect(buildLaunchArgs(arch(2), plan, { engine }).unsupported.join('\n')).toMatch(/8 \/ 2 → 4 expert score/);
    }
  });

  it('the script is valid bash and carries every argument', () => {
    for (const engine of ['mindspeed', 'megatron'] as const) {
      const l = buildLaunchArgs(getPreset('pangu-pro-moe'), engine === 'megatron' ? panguPlanVpp1 : panguPlan, { engine });
      const script = renderLaunchScript(l);
      const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
      for (const a of flatArgs(l).filter((x) => x.startsWith('--'))) expect(script).toContain(a);
      expect(script).toContain('NOT EXPRESSIBLE');
    }
  });
});

describe('launch script quoting', () => {
  /** The argv the script hands to torchrun, as bash builds it from the script with `env`. */
  const argvOf = (l: ReturnType<typeof buildLaunchArgs>, env: Record<string, string>) => {
    const body = renderLaunchScript(l).replace(/torchrun [\s\S]*$/, `printf '%s\\0' ${l.groups.map((g) => `"\${${g.name}[@]}"`).join(' ')}\n`);
    const dir = mkdtempSync(join(tmpdir(), 'moge-emit-'));
    // A file a glob in an unquoted value would match, so globbing would show.
    writeFileSync(join(dir, 'tokenizer.json'), '{}');
    const out = spawnSync('bash', ['-c', body], { cwd: dir, env: { PATH: process.env.PATH ?? '', ...env }, encoding: 'utf8' });
    expect(out.status, out.stderr).toBe(0);
    return out.stdout.split('\0').slice(0, -1);
  };

  it('each value is one argument: placeholders expand without splitting or globbing, literal values are not expanded', () => {
    const plan = panguPlanVpp1;
    const env = { DATA_PATH: '/data/my corpus_text_document', TOKENIZER_PATH: '*.json', CKPT_SAVE_DIR: '/ckpt/run 1' };
    const args = argvOf(buildLaunchArgs(getPreset('pangu-pro-moe'), plan, { engine: 'megatron' }), env);
    expect(valueOf(args, '--data-path')).toBe(env.DATA_PATH);
    expect(valueOf(args, '--tokenizer-model')).toBe('*.json');
    expect(valueOf(args, '--save')).toBe(env.CKPT_SAVE_DIR);
    expect(valueOf(args, '--load')).toBe(env.CKPT_SAVE_DIR);
    expect(args).toEqual(flatArgs(buildLaunchArgs(getPreset('pangu-pro-moe'), plan, { engine: 'megatron', dataPath: env.DATA_PATH, tokenizerPath: '*.json', savePath: env.CKPT_SAVE_DIR })));
    // Paths given as options are what they say: no brace expansion, no variables, quotes kept.
    const literal = { dataPath: '/data/{a,b}_text_document', tokenizerPath: '/tok/$HOME "x" `y`', savePath: '${ROOT}/ck $1 "q"' };
    const l = buildLaunchArgs(getPreset('pangu-pro-moe'), plan, { engine: 'megatron', ...literal });
    const got = argvOf(l, { DATA_PATH: 'd', TOKENIZER_PATH: 't', CKPT_SAVE_DIR: 'c', ROOT: '/r oot' });
    expect(valueOf(got, '--data-path')).toBe(literal.dataPath);
    expect(valueOf(got, '--tokenizer-model')).toBe(literal.tokenizerPath);
    expect(valueOf(got, '--save')).toBe('/r oot/ck $1 "q"');
  });
});

/** Length of a Megatron --moe-layer-freq list expression such as ([0]*3+[1]*58). */
const patternLength = (p: string) => [...p.matchAll(/\[[01]\]\*(\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);

describe('launch emitters: what the engine would reject or train differently', () => {
  it('Megatron-LM gets the real layer count; no-op slots become a shorter last stage', () => {
    const l = buildLaunchArgs(getPreset('pangu-pro-moe'), panguPlanVpp1, { engine: 'megatron' });
    const args = flatArgs(l);
    expect(valueOf(args, '--num-layers')).toBe('48');
    // 50 slots over PP5 = 10 per stage; the 2 no-op slots are the last stage's.
    expect(valueOf(args, '--decoder-last-pipeline-num-layers')).toBe('8');
    expect(args).not.toContain('--noop-layers');
    expect(l.notes.join('\n')).toMatch(/no-op layer slot/);
    expect(renderLaunchScript(l)).toContain('# How the plan is expressed');
    // MindSpeed-LLM has no-op layers: its --num-layers counts them.
    const ms = flatArgs(buildLaunchArgs(getPreset('pangu-pro-moe'), panguPlanVpp1, { engine: 'mindspeed' }));
    expect(valueOf(ms, '--num-layers')).toBe('50');
    expect(valueOf(ms, '--noop-layers')).toBe('48,49');
    expect(ms).not.toContain('--decoder-last-pipeline-num-layers');
  });

  it('Megatron-LM refuses no-op layers under VPP (it splits stages evenly over virtual stages)', () => {
    const issues = issuesOf(() => buildLaunchArgs(getPreset('pangu-pro-moe'), panguPlan, { engine: 'megatron' }));
    expect(issues.map((i) => i.path)).toEqual(['plan.vpp']);
    expect(issues[0]!.expected).toMatch(/no no-op layers.*vpp 1/);
    // The same advice when the layers do not divide and no padding was asked for: "add no-op layers" is impossible there.
    const padless = issuesOf(() => emit('pangu-pro-moe', { ...panguPlan, noopLayers: 0 }, 'megatron'));
    expect(padless.map((i) => i.path)).toEqual(['plan.vpp']);
    // More no-op slots than a stage holds cannot be one shorter last stage.
    const tooMany = issuesOf(() => emit('moge-small', { pp: 4, noopLayers: 2, globalBatchSize: 4 }, 'megatron'));
    expect(tooMany.map((i) => i.path)).toEqual(['plan.noopLayers']);
  });

  it('--moe-layer-freq matches the emitted --num-layers on each engine', () => {
    const plan = { tp: 8, pp: 16, ep: 4, dp: 4, noopLayers: 3, sequenceParallel: true, globalBatchSize: 64 };
    const mg = flatArgs(emit('pangu-ultra-moe', plan, 'megatron'));
    expect(patternLength(valueOf(mg, '--moe-layer-freq')!)).toBe(Number(valueOf(mg, '--num-layers')));
    expect(valueOf(mg, '--num-layers')).toBe('61');
    expect(valueOf(mg, '--decoder-last-pipeline-num-layers')).toBe('1');
    // MindSpeed-LLM: first K dense, then every layer MoE (the no-op slots at the end build no MLP).
    const ms = flatArgs(emit('pangu-ultra-moe', plan, 'mindspeed'));
    expect(valueOf(ms, '--num-layers')).toBe('64');
    expect(valueOf(ms, '--first-k-dense-replace')).toBe('3');
    expect(valueOf(ms, '--moe-layer-freq')).toBe('1');
  });

  it('refuses plans the engine asserts on, with the arch check of @moge/memory', () => {
    // MoE with TP > 1 needs sequence parallelism.
    expect(issuesOf(() => emit('pangu-pro-moe', { tp: 2, ep: 2, dp: 2, globalBatchSize: 8 }, 'megatron')).map((i) => i.path)).toEqual(['plan.sequenceParallel']);
    // 64 experts over EP 3.
    expect(issuesOf(() => emit('pangu-pro-moe', { ep: 3, dp: 3, globalBatchSize: 3 }, 'mindspeed')).map((i) => i.path)).toEqual(['plan.ep']);
    // 40 heads and 8 query groups over TP 3 (and 4096 tokens that sequence parallelism cannot split in 3).
    const tp3 = issuesOf(() => emit('pangu-pro-moe', { tp: 3, sequenceParallel: true }, 'megatron'));
    expect(tp3.map((i) => i.path)).toEqual(['plan.tp', 'plan.tp', 'plan.seqLength']);
    expect(tp3.map((i) => i.expected).join('\n')).toMatch(/numHeads \(40\)[\s\S]*numKvHeads \(8\)[\s\S]*multiple of 3/);
    // 8 query groups and the 5376-wide shared expert over TP 5 (the heads divide).
    const kv = issuesOf(() => emit('pangu-pro-moe', { tp: 5, sequenceParallel: true }, 'mindspeed'));
    expect(kv.map((i) => i.path)).toEqual(['plan.tp', 'plan.tp', 'plan.seqLength']);
    expect(kv[0]!.expected).toMatch(/numKvHeads \(8\)/);
    expect(kv[1]!.expected).toMatch(/sharedExpertFfnSize \(5376\)/);
    // 48 layers over PP5 without padding.
    for (const engine of ['megatron', 'mindspeed'] as const) {
      const pp5 = issuesOf(() => emit('pangu-pro-moe', { ...panguPlan, vpp: 1, noopLayers: 0 }, engine));
      expect(pp5.map((i) => i.path)).toEqual(['plan.noopLayers']);
      expect(pp5[0]!.expected).toMatch(/noopLayers 2/);
    }
    // MindSpeed-LLM: PP5 × VPP5 on 48 layers needs its 2 no-op layers.
    expect(issuesOf(() => emit('pangu-pro-moe', { ...panguPlan, noopLayers: 0 }, 'mindspeed')).map((i) => i.path)).toEqual(['plan.noopLayers']);
  });

  it('refuses a minLr above peakLr (Megatron asserts --min-lr ≤ --lr), naming the option', () => {
    const issues = issuesOf(() => emit('pangu-pro-moe', {}, 'megatron', { peakLr: 1e-4, minLr: 3e-4 }));
    expect(issues.map((i) => i.path)).toEqual(['minLr']);
    expect(issues[0]!.expected).toMatch(/at most peakLr/);
    expect(issuesOf(() => emit('pangu-pro-moe', {}, 'megatron', { trainIters: 0 })).map((i) => i.path)).toEqual(['trainIters']);
  });

  it('warmup follows the trainer rule and stays below --train-iters', () => {
    const plan = { tp: 8, ep: 2, dp: 1, sequenceParallel: true };
    const warmup = (trainIters: number) => valueOf(flatArgs(emit('pangu-pro-moe', plan, 'megatron', { trainIters })), '--lr-warmup-iters');
    expect(warmup(100)).toBe('10');
    expect(warmup(10_000)).toBe('100');
    expect(warmup(1)).toBe('0');
    const given = issuesOf(() => emit('pangu-pro-moe', plan, 'megatron', { trainIters: 100, warmupIters: 500 }));
    expect(given.map((i) => i.path)).toEqual(['warmupIters']);
    expect(valueOf(flatArgs(emit('pangu-pro-moe', plan, 'megatron', { trainIters: 100, warmupIters: 50 })), '--lr-warmup-iters')).toBe('50');
    // WSD carries its decay length (the trainer's: linear over the last 20 %).
    const wsd = flatArgs(emit('pangu-pro-moe', plan, 'megatron', { trainIters: 1000, lrDecayStyle: 'WSD' }));
    expect(valueOf(wsd, '--lr-wsd-decay-iters')).toBe('200');
    expect(valueOf(wsd, '--lr-wsd-decay-style')).toBe('linear');
  });

  it('nodes × devices per node is the world size, TP groups inside a node', () => {
    const l = emit('pangu-pro-moe', { tp: 4, pp: 3, sequenceParallel: true, noopLayers: 0, globalBatchSize: 8 }, 'megatron');
    expect(l.worldSize).toBe(12);
    expect(l.nodes * l.devicesPerNode).toBe(12);
    expect(l.devicesPerNode % 4).toBe(0);
    expect([l.nodes, l.devicesPerNode]).toEqual([3, 4]);
    const script = renderLaunchScript(l);
    expect(script).toContain('NNODES=${NNODES:-3}');
    expect(script).toContain('DEVICES_PER_NODE=${DEVICES_PER_NODE:-4}');
    expect(l.notes.join('\n')).toMatch(/not a multiple of 8/);
    for (const plan of [{ dp: 12 }, { dp: 6 }, { tp: 2, dp: 10, sequenceParallel: true }, { dp: 64 }, { dp: 4 }]) {
      const p = emit('pangu-pro-moe', { ...plan, globalBatchSize: 64 * 60 }, 'mindspeed');
      expect(p.nodes * p.devicesPerNode).toBe(p.worldSize);
      expect(p.devicesPerNode).toBeLessThanOrEqual(8);
    }
  });

  it('Megatron selective recompute keeps the attention core next to other modules', () => {
    const args = flatArgs(emit('pangu-pro-moe', { recompute: ['attention-core', 'activation'] }, 'megatron'));
    expect(valueOf(args, '--recompute-granularity')).toBe('selective');
    expect(valuesOf(args, '--recompute-modules')).toEqual(['core_attn', 'moe_act']);
    // The attention core alone is Megatron's default selective recompute.
    const alone = flatArgs(emit('pangu-pro-moe', { recompute: ['attention-core'] }, 'megatron'));
    expect(valueOf(alone, '--recompute-granularity')).toBe('selective');
    expect(alone).not.toContain('--recompute-modules');
  });

  it('MLA models get each engine\'s latent-attention flags with their ranks, not GQA arguments', () => {
    const plan = { tp: 8, pp: 16, ep: 4, dp: 4, noopLayers: 3, sequenceParallel: true, globalBatchSize: 64 };
    const mg = emit('pangu-ultra-moe', plan, 'megatron');
    const m = flatArgs(mg);
    expect(m).toEqual(expect.arrayContaining(['--multi-latent-attention', '--qk-layernorm']));
    expect([valueOf(m, '--q-lora-rank'), valueOf(m, '--kv-lora-rank'), valueOf(m, '--qk-head-dim'), valueOf(m, '--qk-pos-emb-head-dim'), valueOf(m, '--v-head-dim')]).toEqual(['1536', '512', '128', '64', '128']);
    // Plain RoPE under every Megatron version's MLA rope default (YaRN at factor 1 is RoPE).
    expect(valueOf(m, '--rotary-scaling-factor')).toBe('1');
    const ms = flatArgs(emit('pangu-ultra-moe', plan, 'mindspeed'));
    expect(ms).toEqual(expect.arrayContaining(['--multi-head-latent-attention', '--qk-layernorm']));
    expect([valueOf(ms, '--q-lora-rank'), valueOf(ms, '--kv-lora-rank'), valueOf(ms, '--qk-nope-head-dim'), valueOf(ms, '--qk-rope-head-dim'), valueOf(ms, '--v-head-dim')]).toEqual(['1536', '512', '128', '64', '128']);
    for (const args of [m, ms]) {
      expect(args).not.toContain('--kv-channels');
      expect(args).not.toContain('--group-query-attention');
    }
    expect(mg.unsupported.join('\n')).not.toMatch(/MLA/);
    // Without q compression (qLoraRank 0) the q rank flag is absent, which both engines read as a direct q projection.
    const lite = { ...getPreset('pangu-ultra-moe'), mla: { ...getPreset('pangu-ultra-moe').mla!, qLoraRank: 0 } };
    for (const engine of ['megatron', 'mindspeed'] as const) {
      const args = flatArgs(buildLaunchArgs(lite, ParallelPlanSchema.parse(plan), { engine }));
      expect(args).not.toContain('--q-lora-rank');
      expect(valueOf(args, '--kv-lora-rank')).toBe('512');
    }
    // GQA models keep their GQA arguments.
    const pro = flatArgs(emit('pangu-pro-moe', {}, 'megatron'));
    expect(valueOf(pro, '--kv-channels')).toBe('128');
    expect(valueOf(pro, '--num-query-groups')).toBe('8');
    expect(pro).not.toContain('--multi-latent-attention');
  });

  it('says where Megatron cannot recompute only the activation: dense layers', () => {
    const plan = { tp: 8, pp: 16, ep: 4, dp: 4, noopLayers: 3, sequenceParallel: true, globalBatchSize: 64, recompute: ['activation' as const] };
    const ultra = emit('pangu-ultra-moe', plan, 'megatron');
    expect(valuesOf(flatArgs(ultra), '--recompute-modules')).toEqual(['moe_act']);
    expect(ultra.unsupported.join('\n')).toMatch(/3 dense layer\(s\)/);
    // Every layer MoE: moe_act covers them all.
    expect(emit('pangu-pro-moe', { recompute: ['activation'] }, 'megatron').unsupported.join('\n')).not.toMatch(/dense layer/);
    // MindSpeed's --recompute-activation-function is not limited to experts.
    expect(emit('pangu-ultra-moe', plan, 'mindspeed').unsupported.join('\n')).not.toMatch(/dense layer/);
  });

  it('MTP layers are emitted, not dropped', () => {
    const plan = { tp: 8, pp: 16, ep: 4, dp: 4, noopLayers: 3, sequenceParallel: true, globalBatchSize: 64 };
    for (const engine of ['megatron', 'mindspeed'] as const) {
      const l = emit('pangu-ultra-moe', plan, engine);
      expect(valueOf(flatArgs(l), '--mtp-num-layers')).toBe('1');
    }
    expect(flatArgs(emit('pangu-pro-moe', {}, 'megatron'))).not.toContain('--mtp-num-layers');
  });

  it("sources CANN's set_env.sh with nounset off", () => {
    const script = renderLaunchScript(buildLaunchArgs(getPreset('pangu-pro-moe'), panguPlan, { engine: 'mindspeed' }));
    // Run the script's head with a stand-in set_env.sh that appends to an unset variable, as CANN's does.
    const dir = mkdtempSync(join(tmpdir(), 'moge-emit-'));
    const setEnv = join(dir, 'set_env.sh');
    writeFileSync(setEnv, 'export LD_LIBRARY_PATH=/usr/local/Ascend/lib64:${LD_LIBRARY_PATH}\n');
    const head = script.slice(0, script.indexOf('NNODES=')).replace('/usr/local/Ascend/ascend-toolkit/set_env.sh', setEnv);
    expect(head).toContain(setEnv);
    const env = { ...process.env };
    delete env.LD_LIBRARY_PATH;
    const run = spawnSync('bash', ['-c', `${head}\necho "ok $LD_LIBRARY_PATH"; echo "\${UNSET_AFTER}"`], { encoding: 'utf8', env });
    expect(run.stdout).toContain('ok /usr/local/Ascend/lib64:');
    // nounset is back on after the source.
    expect(run.stderr).toMatch(/UNSET_AFTER/);
  });
});
