#!/usr/bin/env python3
"""The per-device matmuls of one Pangu Pro MoE layer under the two PRO-T1 layouts, timed on one GPU (bf16).

PRO-T1 compares TP1 × CP8 (every matmul full width, 512 tokens a device) with TP8 + sequence
parallelism (4096 tokens, widths split 8 ways): the same FLOPs per device, different shapes. The
simulator's efficiency curve is a function of a matmul's work only, so it costs both the same; this
measures whether the shapes themselves differ, forward (X·W), input gradient (dY·Wᵀ) and weight
gradient (Xᵀ·dY), on hardware we have (an H200, not the 910B: a check of the shape effect, not a fit).

Run on the device machine:  python3 tools/calibrate/h200_pro_t1_shapes.py --out $OUT/h200-pro-t1-shapes.json
"""
import argparse, json, platform, time
import torch
from cuda_timing import cuda_times, median

p = argparse.ArgumentParser()
p.add_argument('--out', required=True)
p.add_argument('--reps', type=int, default=30)
p.add_argument('--warmup', type=int, default=5)
args = p.parse_args()
dev = torch.device('cuda')
torch.backends.cuda.matmul.allow_tf32 = False


def timeit(fn, inner=10):
    return median(cuda_times(fn, args.reps, args.warmup, inner))


H, HEADS, KV, D = 5120, 40, 8, 128
SHARED, EXPERT, E, K = 5376, 1344, 64, 8

# (name, tokens m, in k, out n) per device; experts as (groups, tokens per group, k, n).
LAYOUTS = {
    'tp1-cp8': {
        'dense': [('qkv', 512, H, (HEADS + 2 * KV) * D), ('o-proj', 512, HEADS * D, H),
                  ('shared-gate-up', 512, H, 2 * SHARED), ('shared-down', 512, SHARED, H)],
        # EP8 over 64 experts: 8 local experts, 512 tokens × 8 picks spread over them.
        'experts': [('experts-gate-up', 8, 512, H, 2 * EXPERT), ('experts-down', 8, 512, EXPERT, H)],
    },
    'tp8-sp': {
        'dense': [('qkv', 4096, H, (HEADS // 8 + 2 * (KV // 8)) * D), ('o-proj', 4096, HEADS // 8 * D, H),
                  ('shared-gate-up', 4096, H, 2 * SHARED // 8), ('shared-down', 4096, SHARED // 8, H)],
        # EP16 (TP8 × EP2): 4 local experts, 512 sequence-parallel tokens × 8 picks × 16 ranks / 16.
        'experts': [('experts-gate-up', 4, 1024, H, 2 * EXPERT), ('experts-down', 4, 1024, EXPERT, H)],
    },
}

rows = {'meta': {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__, 'cuda': torch.version.cuda,
                 'host': platform.node(), 'reps': args.reps, 'warmup': args.warmup, 'dtype': 'bf16',
                 'statistic': 'median', 'date': time.strftime('%Y-%m-%d')}, 'layouts': {}}
for layout, ops in LAYOUTS.items():
    out = []
    for name, m, k, n in ops['dense']:
        x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
        w = torch.randn(k, n, device=dev, dtype=torch.bfloat16)
        dy = torch.randn(m, n, device=dev, dtype=torch.bfloat16)
        fwd = timeit(lambda: x @ w)
        dx = timeit(lambda: dy @ w.t())
        dw = timeit(lambda: x.t() @ dy)
        out.append({'op': name, 'm': m, 'k': k, 'n': n, 'flops': 2 * m * k * n, 'forwardS': fwd, 'inputGradS': dx, 'weightGradS': dw})
    for name, g, t, k, n in ops['experts']:
        x = torch.randn(g, t, k, device=dev, dtype=torch.bfloat16)
        w = torch.randn(g, k, n, device=dev, dtype=torch.bfloat16)
        dy = torch.randn(g, t, n, device=dev, dtype=torch.bfloat16)
        fwd = timeit(lambda: torch.bmm(x, w))
        dx = timeit(lambda: torch.bmm(dy, w.transpose(1, 2)))
        dw = timeit(lambda: torch.bmm(x.transpose(1, 2), dy))
        out.append({'op': name, 'groups': g, 'tokensPerGroup': t, 'k': k, 'n': n, 'flops': 2 * g * t * k * n,
                    'forwardS': fwd, 'inputGradS': dx, 'weightGradS': dw})
    total = sum(r['forwardS'] + r['inputGradS'] + r['weightGradS'] for r in out)
    rows['layouts'][layout] = {'ops': out, 'totalS': total,
                               'tflops': 3 * sum(r['flops'] for r in out) / total / 1e12}
    torch.cuda.empty_cache()

a, b = rows['layouts']['tp1-cp8'], rows['layouts']['tp8-sp']
rows['ratioTp8OverTp1Cp8'] = b['totalS'] / a['totalS']
for layout, r in rows['layouts'].items():
    print(f"{layout}: {r['totalS'] * 1e3:.3f} ms forward+backward, {r['tflops']:.0f} TFLOP/s")
    for o in r['ops']:
        print(f"  {o['op']:16s} fwd {o['forwardS'] * 1e6:7.1f} us  dX {o['inputGradS'] * 1e6:7.1f} us  dW {o['weightGradS'] * 1e6:7.1f} us")
print(f"tp8-sp / tp1-cp8 time: {rows['ratioTp8OverTp1Cp8']:.3f}")
with open(args.out, 'w') as f:
    json.dump(rows, f, indent=1)
