#!/usr/bin/env python3
"""One device's compute for a Pangu Ultra MoE layer and for the loss stage, timed on one GPU (bf16).

Why: at PP16 × VPP2 the simulator cannot even out 61 layers + the MTP module + the loss stage over
16 ranks, because it costs the loss stage (the main and the MTP head with their cross-entropy) at
~2.1 (H200) to 2.8 (910B) MoE layers. That ratio decides how much stage imbalance Pangu Ultra's
plan pays (ULT-S1). This measures it on hardware we have: the per-rank work of the ULT-T1 layout
(TP8 + sequence parallelism, experts over 32 ranks, micro-batch 1 × 4096 tokens), forward +
backward through autograd, every collective left out (an all-gather becomes a repeat of the local
rows, a reduce-scatter a slice), expert loads balanced (512 rows for each of the 8 local experts).

Shapes follow the simulator's op list for the layer (packages/sim/src/common/layer-ops.ts, MLA with
down-projections on the 512 sequence-parallel rows, the shared expert column/row-split over TP) so
the two can be compared op for op. Eager PyTorch with the fused kernels it has (rms_norm, SDPA,
grouped_mm); `--compiled` adds a torch.compile run of each block, which fuses the elementwise
chains as Megatron's fused kernels do.

Run on the device machine:  python3 tools/calibrate/h200_ultra_stage_costs.py --compiled --out $OUT/h200-ultra-stage-costs.json
"""
import argparse, json, platform
import torch
from cuda_timing import cuda_times, median
import torch.nn.functional as F
from ultra_rank_layer import (E, F_EXP, F_SHARED, H, KVL, LE, LH, NOPE, QL, ROPE, ROWS_PER_EXPERT, SEQ, SP, TOPK, TP, V, VOCAB,
                              LayerWeights, bf, dev, gather, moe_half, rope, scatter, w)

p = argparse.ArgumentParser()
p.add_argument('--out', required=True)
p.add_argument('--reps', type=int, default=20)
p.add_argument('--warmup', type=int, default=5)
p.add_argument('--compiled', action='store_true')
p.add_argument('--per-op', action='store_true', help='also time each op of the layer on its own (eager)')
args = p.parse_args()
torch.manual_seed(0)


class Layer(LayerWeights):
    def __call__(self, x):
        h = F.rms_norm(x, (H,), self.n1)
        q_lat = gather(F.rms_norm(h @ self.q_down.t(), (QL,), self.q_norm))
        q = (q_lat @ self.q_up.t()).view(SEQ, LH, NOPE + ROPE)
        kv_c = gather(h @ self.kv_down.t())
        kv_lat, k_pe = kv_c.split([KVL, ROPE], dim=-1)
        kv = (F.rms_norm(kv_lat, (KVL,), self.kv_norm) @ self.kv_up.t()).view(SEQ, LH, NOPE + V)
        k_nope, v = kv.split([NOPE, V], dim=-1)
        q_nope, q_pe = q.split([NOPE, ROPE], dim=-1)
        q = torch.cat([q_nope, rope(q_pe, self.cos, self.sin)], dim=-1)
        k = torch.cat([k_nope, rope(k_pe.view(SEQ, 1, ROPE), self.cos, self.sin).expand(SEQ, LH, ROPE)], dim=-1)
        a = F.scaled_dot_product_attention(q.transpose(0, 1)[None], k.transpose(0, 1)[None], v.transpose(0, 1)[None], is_causal=True)
        a = a[0].transpose(0, 1).reshape(SEQ, LH * V)
        x = x + scatter(a @ self.o.t())
        return moe_half(self, x, lambda rows, weight: gather(rows) @ weight.t())


class LossStage:
    """The main head and the MTP module's head (shared weights in Megatron; the work is twice one head),
    each with a final RMSNorm, the vocab-parallel logits of this rank and a cross-entropy over them."""

    def __init__(self):
        self.norm = w(H, scale=1.0)
        self.head = w(VOCAB // TP, H)
        self.labels = torch.randint(0, VOCAB // TP, (SEQ,), device=dev)

    def __call__(self, xs):
        loss = 0
        for x in xs:
            logits = gather(F.rms_norm(x, (H,), self.norm)) @ self.head.t()
            loss = loss + F.cross_entropy(logits.float(), self.labels)
        return loss

    def params(self):
        return [self.norm, self.head]


def timed(fn):  # median milliseconds
    return median(cuda_times(fn, args.reps, args.warmup)) * 1e3


def measure(block, make_inputs, run):
    inputs = make_inputs()

    def fwd():
        with torch.no_grad():
            run(block, inputs)

    def fwd_bwd():
        out = run(block, inputs)
        (out.float().sum() if out.dim() else out).backward()
        for t in block.params() + inputs:
            t.grad = None

    return {'forwardMs': timed(fwd), 'forwardBackwardMs': timed(fwd_bwd)}


def layer_inputs():
    return [torch.randn(SP, H, device=dev, dtype=bf).requires_grad_()]


def loss_inputs():
    return [torch.randn(SP, H, device=dev, dtype=bf).requires_grad_() for _ in range(2)]


results = {}
layer, loss_stage = Layer(), LossStage()
variants = [('eager', lambda blk, xs: blk(*xs) if isinstance(blk, Layer) else blk(xs))]
if args.compiled:
    layer_c = torch.compile(lambda x: layer(x))
    loss_c = torch.compile(lambda xs: loss_stage(xs))
    variants.append(('compiled', lambda blk, xs: layer_c(*xs) if isinstance(blk, Layer) else loss_c(xs)))
for name, run in variants:
    results[name] = {
        'moeLayer': measure(layer, layer_inputs, run),
        'lossStage': measure(loss_stage, loss_inputs, run),
    }
    r = results[name]
    r['lossStageOverMoeLayer'] = r['lossStage']['forwardBackwardMs'] / r['moeLayer']['forwardBackwardMs']
    print(name, json.dumps(r))

def per_op():
    """Each op of the layer alone at the layer's shapes, forward and forward + backward (eager), named as
    the simulator names them, so a gap between the whole layer and the simulator can be located."""
    L = layer
    r = lambda *s: torch.randn(*s, device=dev, dtype=bf).requires_grad_()
    top_i = torch.rand(SP, E, device=dev).topk(TOPK, dim=-1).indices
    order = top_i.flatten().argsort(stable=True)
    token = order // TOPK
    wts = torch.rand(SP * TOPK, 1, device=dev, dtype=bf)
    ops = {
        'input-norm': (lambda x: F.rms_norm(x, (H,), L.n1), [r(SP, H)]),
        'q-down-proj': (lambda x: x @ L.q_down.t(), [r(SP, H)]),
        'q-norm': (lambda x: F.rms_norm(x, (QL,), L.q_norm), [r(SEQ, QL)]),
        'q-up-proj': (lambda x: x @ L.q_up.t(), [r(SEQ, QL)]),
        'kv-down-proj': (lambda x: x @ L.kv_down.t(), [r(SP, H)]),
        'kv-norm': (lambda x: F.rms_norm(x, (KVL,), L.kv_norm), [r(SEQ, KVL)]),
        'kv-up-proj': (lambda x: x @ L.kv_up.t(), [r(SEQ, KVL)]),
        'rope': (lambda q, k: (rope(q, L.cos, L.sin), rope(k, L.cos, L.sin)), [r(SEQ, LH, ROPE), r(SEQ, 1, ROPE)]),
        'attention-core': (lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True), [r(1, LH, SEQ, NOPE + ROPE), r(1, LH, SEQ, NOPE + ROPE), r(1, LH, SEQ, V)]),
        'o-proj': (lambda x: x @ L.o.t(), [r(SEQ, LH * V)]),
        'router-gate': (lambda x: x @ L.gate.t(), [r(SP, H)]),
        'router-topk': (lambda x: torch.softmax(x.float(), dim=-1).topk(TOPK, dim=-1).values, [r(SP, E)]),
        'permute': (lambda x: x.index_select(0, token), [r(SP, H)]),
        'experts-gate-up': (lambda x: torch._grouped_mm(x, L.w13, offs=L.offs), [r(SP * TOPK, H)]),
        'experts-swiglu': (lambda g, u: F.silu(g) * u, [r(SP * TOPK, F_EXP), r(SP * TOPK, F_EXP)]),
        'experts-down': (lambda x: torch._grouped_mm(x, L.w2, offs=L.offs), [r(SP * TOPK, F_EXP)]),
        'unpermute': (lambda y: torch.zeros(SP, H, device=dev, dtype=bf).index_add_(0, token, y * wts), [r(SP * TOPK, H)]),
        'shared-gate-up': (lambda x: x @ L.s13.t(), [r(SEQ, H)]),
        'shared-swiglu': (lambda g, u: F.silu(g) * u, [r(SEQ, F_SHARED // TP), r(SEQ, F_SHARED // TP)]),
        'shared-down': (lambda x: x @ L.s2.t(), [r(SEQ, F_SHARED // TP)]),
        'residual': (lambda a, b: a + b, [r(SP, H), r(SP, H)]),
    }
    rows = {}
    for name, (fn, inputs) in ops.items():
        params = [p for p in L.params()]

        def fwd():
            with torch.no_grad():
                fn(*inputs)

        def fwd_bwd():
            out = fn(*inputs)
            outs = out if isinstance(out, tuple) else (out,)
            torch.autograd.backward([o.float().sum() for o in outs])
            for t in params + inputs:
                t.grad = None

        f, fb = timed(fwd), timed(fwd_bwd)
        rows[name] = {'forwardMs': f, 'backwardMs': fb - f}
    return rows


if args.per_op:
    results['perOpEager'] = per_op()
    print('per op', json.dumps(results['perOpEager']))

out = {
    'what': 'per-rank compute of one Pangu Ultra MoE layer and of the loss stage (2 heads + cross-entropy) under TP8 + SP, EP over 32 ranks, micro-batch 1 x 4096 tokens; collectives left out; median ms',
    'shapes': {'hidden': H, 'localHeads': LH, 'localExperts': LE, 'rowsPerExpert': ROWS_PER_EXPERT, 'sequenceParallelRows': SP, 'vocabShard': VOCAB // TP},
    'device': torch.cuda.get_device_name(),
    'torch': torch.__version__,
    'cuda': torch.version.cuda,
    'python': platform.python_version(),
    'reps': args.reps,
    'results': results,
}
with open(args.out, 'w') as f:
    json.dump(out, f, indent=2)
