#!/usr/bin/env python3
"""MoGE router forward in PyTorch: the baseline for packages/router/bench/forward.ts.

Same computation as the `moge` router of @moge/router: with --hidden H > 0 the router logits come
from the gate matmul x[T, H] @ w_gate[H, E] first (timed, as the bench's "gate+router" rows); then
p = softmax over all E experts (fp32), the K/M largest p in each of the M contiguous groups (ids
group-major, best-first inside a group), weight = p[id] * router_scale[id], no renormalisation.
Runs on the CPU with a fixed thread count (torch.set_num_threads) so it can be compared with the JS
kernels on the same machine at the same thread count.
Prints one JSON object on stdout: wall-clock and process CPU time per forward, median and best.
"""
import argparse
import json
import statistics
import time

import torch

from blas_core import openblas_core


def moge_forward(logits: torch.Tensor, router_scale: torch.Tensor, groups: int, top_k: int, variant: str = "topk"):
    tokens, experts = logits.shape
    probs = torch.softmax(logits, dim=-1, dtype=torch.float32)
    k_per_group = top_k // groups
    grouped = probs.view(tokens, groups, experts // groups)
    if variant == "max":
        # One expert per group: max() is the faster PyTorch idiom for the same selection.
        assert k_per_group == 1, "--variant max needs top_k == groups"
        values, local = grouped.max(dim=-1, keepdim=True)
    else:
        values, local = grouped.topk(k_per_group, dim=-1, sorted=True)
    offsets = torch.arange(groups, dtype=local.dtype).view(1, groups, 1) * (experts // groups)
    ids = (local + offsets).view(tokens, top_k)
    weights = values.view(tokens, top_k) * router_scale[ids]
    return probs, ids.to(torch.int32), weights


def loaded_blas() -> str:
    """The BLAS library actually mapped into this process (Debian's torch says BLAS_INFO=generic and
    binds whatever libblas.so.3 the alternatives system points at: OpenBLAS or the slow reference)."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(paths)) or "none mapped"
    except OSError:
        return "unknown"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokens", type=int, default=65536)
    ap.add_argument("--experts", type=int, default=64)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--top-k", type=int, default=8)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--variant", choices=["topk", "max"], default="topk")
    ap.add_argument("--hidden", type=int, default=0, help="gate matmul from [T, H] activations first; 0 = start from logits")
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    if args.hidden > 0:
        x = torch.randn(args.tokens, args.hidden, generator=gen, dtype=torch.float32)
        w_gate = torch.randn(args.hidden, args.experts, generator=gen, dtype=torch.float32) / args.hidden ** 0.5
    else:
        logits = torch.randn(args.tokens, args.experts, generator=gen, dtype=torch.float32)
    scale = torch.rand(args.experts, generator=gen, dtype=torch.float32) + 0.5

    def forward():
        z = x @ w_gate if args.hidden > 0 else logits
        return moge_forward(z, scale, args.groups, args.top_k, args.variant)

    with torch.inference_mode():
        for _ in range(args.warmup):
            forward()
        times = []
        cpu_times = []
        for _ in range(args.repeats):
            c0 = time.process_time()
            t0 = time.perf_counter()
            forward()
            times.append(time.perf_counter() - t0)
            cpu_times.append(time.process_time() - c0)

    median_s = statistics.median(times)
    print(json.dumps({
        "impl": "pytorch",
        "variant": args.variant,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "tokens": args.tokens,
        "experts": args.experts,
        "groups": args.groups,
        "top_k": args.top_k,
        "hidden": args.hidden,
        "blas": loaded_blas(),
        "blas_core": openblas_core(),
        "repeats": args.repeats,
        "median_s": median_s,
        "min_s": min(times),
        # CPU seconds of the whole process (all threads): less sensitive to a loaded machine.
        "cpu_median_s": statistics.median(cpu_times),
        "cpu_min_s": min(cpu_times),
        "tokens_per_s": args.tokens / median_s,
    }))


if __name__ == "__main__":
    main()
