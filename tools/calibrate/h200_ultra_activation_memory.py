#!/usr/bin/env python3
"""Activation memory that Pangu Ultra MoE layers keep for backward on one GPU, per micro-batch in flight.

Why: @moge/memory counts a layer's activations tensor by tensor (Korthikanti et al.; Megatron-core's
MoE and MLA), and the simulator ranks Pangu Ultra's PP16 x VPP2 plan outside its top 5 (#37 when this was written) partly because that count
lets plans with fewer stages fit in 64 GiB. The count would be wrong if a real implementation keeps
more (`activationMemoryFactor` in a profile scales it; `ult-s1-whatif.ts` shows the ranking
moves only at x1.6 and more). This measures what PyTorch's autograd and caching allocator actually
hold for the per-rank work of the ULT-T1 layout.

What runs: a model chunk of `--layers` MoE layers at one rank's shapes (TP8 + SP, experts over 32
ranks, micro-batch 1 x 4096 tokens, balanced expert load; ultra_rank_layer.py), written as
Megatron-core keeps tensors: a column-parallel linear under sequence parallelism keeps its local rows
and gathers them again in backward (the all-gather is a repeat here, the reduce-scatter a slice); a
stage's output has its data freed once "sent", as Megatron's deallocate_output_tensor does. For each
number n of micro-batches in flight, n forwards run and then their n backwards, as a pipeline stage's
warm-up and cool-down do: the allocator's bytes above the weights and gradients after the forwards,
fitted over n, give the bytes one micro-batch keeps (the slope) and the backward's working set on top.
Eager (PyTorch's fused rms_norm, SDPA flash attention, grouped_mm) and `--compiled` (torch.compile,
whose partitioner decides what to save, as fused kernels do).

Run on the device machine:
  python3 tools/calibrate/h200_ultra_activation_memory.py --compiled --out $OUT/h200-ultra-activation-memory.json
"""
import argparse, json, platform
import torch
import torch.nn.functional as F
from torch.autograd import Variable
from ultra_rank_layer import H, KVL, LE, LH, NOPE, QL, ROPE, ROWS_PER_EXPERT, SEQ, SP, TP, V, LayerWeights, bf, dev, gather, moe_half, rope, scatter

p = argparse.ArgumentParser()
p.add_argument('--out', required=True)
p.add_argument('--layers', type=int, default=2, help='MoE layers in the chunk (PP16 x VPP2 puts two in most chunks)')
p.add_argument('--in-flight', default='1,2,4,8', help='micro-batches in flight, comma-separated')
p.add_argument('--compiled', action='store_true')
args = p.parse_args()
in_flight = [int(n) for n in args.in_flight.split(',')]
torch.manual_seed(0)


class GatheredLinear(torch.autograd.Function):
    """Megatron-core's column-parallel linear under sequence parallelism: the input rows are all-gathered
    for the product, only the local rows are kept, and backward gathers them again."""

    @staticmethod
    def forward(ctx, x, weight):
        ctx.save_for_backward(x, weight)
        return x.repeat(TP, 1) @ weight.t()

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        return (grad @ weight)[:SP], grad.t() @ x.repeat(TP, 1)


class Layer(LayerWeights):
    def __call__(self, x):
        # MLA as Megatron-core runs it under SP: the down-projections and latent norms on local rows,
        # the up-projections column-parallel (gathering), the rotary key part gathered on its own.
        h = F.rms_norm(x, (H,), self.n1)
        q_lat = F.rms_norm(h @ self.q_down.t(), (QL,), self.q_norm)
        q = GatheredLinear.apply(q_lat, self.q_up).view(SEQ, LH, NOPE + ROPE)
        kv_lat, k_pe = (h @ self.kv_down.t()).split([KVL, ROPE], dim=-1)
        kv = GatheredLinear.apply(F.rms_norm(kv_lat, (KVL,), self.kv_norm), self.kv_up).view(SEQ, LH, NOPE + V)
        k_nope, v = kv.split([NOPE, V], dim=-1)
        q_nope, q_pe = q.split([NOPE, ROPE], dim=-1)
        q = torch.cat([q_nope, rope(q_pe, self.cos, self.sin)], dim=-1)
        k_pe = rope(gather(k_pe).view(SEQ, 1, ROPE), self.cos, self.sin).expand(SEQ, LH, ROPE)
        k = torch.cat([k_nope, k_pe], dim=-1)
        a = F.scaled_dot_product_attention(q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], is_causal=True)
        a = a[0].transpose(0, 1).reshape(SEQ, LH * V)
        x = x + scatter(a @ self.o.t())
        return moe_half(self, x, GatheredLinear.apply)


layers = [Layer() for _ in range(args.layers)]
constants = {t.untyped_storage().data_ptr() for l in layers for t in l.params() + [l.cos, l.sin, l.offs]}


def chunk_forward(run, x):
    for l in layers:
        x = run(l, x)
    return x


def backward_freed(out, grad):
    """Backward from an output whose data was freed after sending (Megatron's custom_backward)."""
    Variable._execution_engine.run_backward(tensors=(out,), grad_tensors=(grad,), keep_graph=False, create_graph=False,
                                            inputs=(), allow_unreachable=True, accumulate_grad=True)


def in_flight_run(run, n):
    """n forwards kept, then their n backwards; bytes above the weights and gradients."""
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base, base_reserved = torch.cuda.memory_allocated(), torch.cuda.memory_reserved()
    torch.cuda.reset_peak_memory_stats()
    kept = []
    for _ in range(n):
        x = torch.randn(SP, H, device=dev, dtype=bf).requires_grad_()  # the received activation, kept as Megatron keeps it
        out = chunk_forward(run, x)
        out.data = torch.empty((1,), device=dev, dtype=out.dtype)  # sent: only the graph stays
        kept.append((x, out))
    torch.cuda.synchronize()
    after_forward = torch.cuda.memory_allocated() - base
    forward_peak = torch.cuda.max_memory_allocated() - base
    for x, out in kept:
        backward_freed(out, torch.randn(SP, H, device=dev, dtype=bf))
        x.grad = None
    kept.clear()
    torch.cuda.synchronize()
    return {
        'inFlight': n,
        'keptAfterForwardsBytes': after_forward,
        'forwardPeakBytes': forward_peak,
        'peakBytes': torch.cuda.max_memory_allocated() - base,
        'peakReservedBytes': torch.cuda.max_memory_reserved() - base_reserved,
    }


def fit(rows):
    """Least-squares line of kept bytes over micro-batches in flight: slope = one micro-batch's kept bytes."""
    xs = [r['inFlight'] for r in rows]
    ys = [r['keptAfterForwardsBytes'] for r in rows]
    mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = sum((a - mx) * (b - my) for a, b in zip(xs, ys)) / sum((a - mx) ** 2 for a in xs)
    return {'bytesPerMicroBatch': slope, 'bytesPerMicroBatchPerLayer': slope / args.layers, 'interceptBytes': my - slope * mx,
            'backwardWorkingSetBytes': max(r['peakBytes'] - r['keptAfterForwardsBytes'] for r in rows)}


def saved_tensors(out):
    """What one micro-batch's graph keeps, tensor by tensor (views of one storage counted once), by the
    autograd node that keeps it; weights and constant tables left out."""
    seen_nodes, storages = set(), {}
    stack = [out.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen_nodes:
            continue
        seen_nodes.add(fn)
        found = []
        for attr in dir(fn):
            if attr.startswith('_saved_') and not attr.endswith('_sym_sizes_opt'):
                try:
                    found.append((attr, getattr(fn, attr)))
                except Exception:  # a slot that holds nothing here (an optional tensor left undefined) raises on reading
                    pass
        if hasattr(fn, 'saved_tensors'):
            found.append(('saved_tensors', fn.saved_tensors))
        for attr, value in found:
            for t in value if isinstance(value, (tuple, list)) else [value]:
                if isinstance(t, torch.Tensor) and t.is_cuda:
                    key = t.untyped_storage().data_ptr()
                    if key not in constants and key not in storages:
                        storages[key] = {'node': fn.name(), 'attr': attr, 'shape': list(t.shape), 'dtype': str(t.dtype).replace('torch.', ''),
                                         'storageBytes': t.untyped_storage().nbytes()}
        stack.extend(nxt for nxt, _ in fn.next_functions)
    return sorted(storages.values(), key=lambda r: -r['storageBytes'])


variants = [('eager', lambda l, x: l(x))]
if args.compiled:
    compiled = {id(l): torch.compile(lambda x, l=l: l(x)) for l in layers}
    variants.append(('compiled', lambda l, x: compiled[id(l)](x)))

results = {}
for name, run in variants:
    in_flight_run(run, 1)  # warm-up: compiles, allocates the gradients, fills the allocator's pools
    rows = [in_flight_run(run, n) for n in in_flight]
    one = torch.randn(SP, H, device=dev, dtype=bf).requires_grad_()
    listing = saved_tensors(run(layers[0], one))
    results[name] = {'runs': rows, 'fit': fit(rows), 'savedByOneLayer': listing,
                     'savedByOneLayerBytes': sum(r['storageBytes'] for r in listing)}
    print(name, json.dumps(results[name]['fit']), 'listed', results[name]['savedByOneLayerBytes'])
    del listing, one

out = {
    'what': 'bytes a chunk of Pangu Ultra MoE layers keeps for backward per micro-batch in flight, one rank of TP8 + SP, experts over 32 ranks, micro-batch 1 x 4096 tokens, balanced expert load, Megatron-core tensor keeping (SP linears keep local rows; sent outputs freed); weights and gradients excluded',
    'shapes': {'hidden': H, 'localHeads': LH, 'localExperts': LE, 'rowsPerExpert': ROWS_PER_EXPERT, 'sequenceParallelRows': SP, 'tokens': SEQ,
               'layers': args.layers},
    'device': torch.cuda.get_device_name(),
    'torch': torch.__version__,
    'cuda': torch.version.cuda,
    'python': platform.python_version(),
    'results': results,
}
with open(args.out, 'w') as f:
    json.dump(out, f, indent=2)
