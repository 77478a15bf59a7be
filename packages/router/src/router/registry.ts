import type { Backend, Tensor } from '@moge/ascend-hal';
import { parseWith, ValidationError } from '@moge/core';
import type { z } from 'zod';
import { groupSize, RouterConfigSchema, type RouterConfig, type RouterConfigInput } from './config';
import { mogeForwardHost } from './fused-moge';
import { createScoredRouter, type FastForward } from './scored-router';
import { selectGroupLimited, selectMoge, selectTopK } from './select';
import type { Router, RouterForward } from './types';

/** A router kind: the schema its config must satisfy and how to build one from a parsed config. */
export interface RouterPlugin {
  readonly name: string;
  readonly schema: z.ZodType<RouterConfig, RouterConfigInput>;
  create(config: RouterConfig): Router;
}

type Ctx = z.core.$RefinementCtx<RouterConfig>;

function issue(ctx: Ctx, path: keyof RouterConfig, input: unknown, message: string): void {
  ctx.addIssue({ code: 'custom', path: [path], input, message });
}

// ---- moge --------------------------------------------------------------------------------------

/**
 * Backends whose tensors are typed arrays in this process: reading logits and adopting results is
 * free there, so the fused host kernel replaces five kernel launches. On any other backend the
 * generic kernel path runs, and the data stays on the device.
 */
const HOST_MEMORY_BACKENDS = new Set(['reference', 'onnxruntime']);

const mogeFused: FastForward = (backend: Backend, logits: Tensor, routerScale: Tensor, config): RouterForward | null => {
  if (config.kernel === 'backend' || (config.kernel === 'auto' && !HOST_MEMORY_BACKENDS.has(backend.name))) return null;
  const tokens = logits.shape[0]!;
  const k = config.topK;
  const r = mogeForwardHost(backend.read(logits) as Float32Array, backend.read(routerScale) as Float32Array, {
    tokens,
    numExperts: config.numExperts,
    numGroups: config.numGroups,
    topK: k,
  }, {
    // The reference backend is the numerics oracle: its fused kernel keeps the float64 softmax and
    // gives the backend kernels' bits. Elsewhere the fp32 SIMD softmax (1e-6 relative) is ~1.8× faster.
    precision: backend.name === 'reference' ? 'f64' : 'f32',
  });
  return {
    probs: backend.fromArray(r.probs, [tokens, config.numExperts]),
    expertIds: backend.fromArray(r.ids.slice(), [tokens, k], 'i32'),
    expertIdsHost: r.ids,
    weights: backend.fromArray(r.weights, [tokens, k]),
    selectedScores: backend.fromArray(r.values, [tokens, k]),
    selectedScale: backend.fromArray(r.scale, [tokens, k]),
    tokens,
  };
};

const mogePlugin: RouterPlugin = {
  name: 'moge',
  schema: RouterConfigSchema.superRefine((c, ctx) => {
    if (c.topK % c.numGroups !== 0) issue(ctx, 'topK', c.topK, `a multiple of numGroups (${c.numGroups}): MoGE takes K/M experts per group`);
    else if (c.topK / c.numGroups > groupSize(c)) issue(ctx, 'topK', c.topK, `at most numExperts (${c.numExperts}): K/M per group ≤ E/M`);
    if (c.scoring !== 'softmax') issue(ctx, 'scoring', c.scoring, `'softmax': MoGE scores with the softmax over all experts`);
    if (c.renormalize) issue(ctx, 'renormalize', c.renormalize, 'false: MoGE weights are p·router_scale, never renormalised');
  }),
  create: (config) => createScoredRouter('moge', config, selectMoge, mogeFused),
};

// ---- topk --------------------------------------------------------------------------------------

const topkPlugin: RouterPlugin = {
  name: 'topk',
  schema: RouterConfigSchema,
  create: (config) => createScoredRouter('topk', config, selectTopK),
};

// ---- group-limited -------------------------------------------------------------------------------

const groupLimitedPlugin: RouterPlugin = {
  name: 'group-limited',
  schema: RouterConfigSchema.superRefine((c, ctx) => {
    if (c.topGroups === undefined) {
      issue(ctx, 'topGroups', undefined, `an integer in [1, numGroups=${c.numGroups}]: groups kept per token`);
      return;
    }
    if (c.topGroups > c.numGroups) issue(ctx, 'topGroups', c.topGroups, `at most numGroups (${c.numGroups})`);
    else if (c.topK > c.topGroups * groupSize(c)) {
      issue(ctx, 'topK', c.topK, `at most topGroups·E/M = ${c.topGroups * groupSize(c)} (the experts in the kept groups)`);
    }
  }),
  create: (config) => createScoredRouter('group-limited', config, selectGroupLimited),
};

// ---- registry ------------------------------------------------------------------------------------

const plugins = new Map<string, RouterPlugin>([mogePlugin, topkPlugin, groupLimitedPlugin].map((p) => [p.name, p]));

/** Adds a router kind (a third-party plugin). Re-registering a built-in name is refused. */
export function registerRouter(plugin: RouterPlugin): void {
  if (plugins.has(plugin.name)) throw new RangeError(`router '${plugin.name}' is already registered`);
  plugins.set(plugin.name, plugin);
}

/** Names of every registered router kind. */
export function routerKinds(): string[] {
  return [...plugins.keys()];
}

/** Builds a router of `kind`; the config is validated against that kind's rules (errors name the field). */
export function createRouter(kind: string, config: RouterConfigInput): Router {
  const plugin = plugins.get(kind);
  if (!plugin) {
    throw new ValidationError('router kind', [{ path: 'kind', received: kind, expected: `one of ${routerKinds().join(', ')}` }]);
  }
  return plugin.create(parseWith(plugin.schema, config, `${kind} router config`));
}
