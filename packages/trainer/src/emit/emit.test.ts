import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ParallelPlanSchema } from '@moge/core';
import { getPreset } from '@moge/model';
import { buildLaunchArgs } from './launch-args';
import { flatArgs, renderLaunchScript } from './launch-script';

// Pangu Pro MoE's final training layout (arXiv 2505.21411): TP8 / EP2 / CP1 / PP5 / VPP5, 48 + 2 noop layers.
const panguPlan = ParallelPlanSchema.parse({
  tp: 8, ep: 2, cp: 1, pp: 5, vpp: 5, dp: 2, noopLayers: 2, sequenceParallel: true,
  microBatchSize: 1, globalBatchSize: 64, seqLength: 4096, recompute: ['activation', 'norm', 'permute'], swap: ['attention'],
});

const valueOf = (args: string[], name: string) => args[args.indexOf(name) + 1];

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

  it('Megatron-LM: no noop layers or swap, said so; recompute modules by name', () => {
    const l = buildLaunchArgs(getPreset('pangu-pro-moe'), panguPlan, { engine: 'megatron' });
    const args = flatArgs(l);
    expect(args).not.toContain('--noop-layers');
    expect(args).toEqual(expect.arrayContaining(['--recompute-modules', 'moe_act', 'layernorm']));
    expect(l.unsupported.join('\n')).toMatch(/noop layer/);
    expect(l.unsupported.join('\n')).toMatch(/activation swap/);
    expect(valueOf(args, '--tokenizer-type')).toBe('HuggingFaceTokenizer');
  });

  it('full-layer recompute and a group-limited router use the engine flags', () => {
    const arch = { ...getPreset('pangu-ultra-moe'), router: 'group-limited' as const, routerTopGroups: 4 };
    const plan = ParallelPlanSchema.parse({ tp: 8, pp: 16, vpp: 2, ep: 4, dp: 4, recompute: ['layer'], recomputeNumLayers: 2, globalBatchSize: 8 });
    const args = flatArgs(buildLaunchArgs(arch, plan, { engine: 'megatron' }));
    expect(valueOf(args, '--recompute-granularity')).toBe('full');
    expect(valueOf(args, '--recompute-num-layers')).toBe('2');
    expect(valueOf(args, '--moe-router-group-topk')).toBe('4');
    expect(valueOf(args, '--moe-layer-freq')).toBe('([0]*3+[1]*58)');
  });

  it('the script is valid bash and carries every argument', () => {
    for (const engine of ['mindspeed', 'megatron'] as const) {
      const l = buildLaunchArgs(getPreset('pangu-pro-moe'), panguPlan, { engine });
      const script = renderLaunchScript(l);
      const check = spawnSync('bash', ['-n'], { input: script, encoding: 'utf8' });
      expect(check.status, check.stderr).toBe(0);
      for (const a of flatArgs(l).filter((x) => x.startsWith('--'))) expect(script).toContain(a);
      expect(script).toContain('NOT EXPRESSIBLE');
    }
  });
});
