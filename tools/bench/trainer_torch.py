#!/usr/bin/env python3
"""Training-step baseline for packages/trainer/bench/run.ts: the same model, data and step in PyTorch eager.

One optimizer step = what @moge/trainer does per step: global batch split into micro-batches, forward +
backward of each (loss = CE + alpha * sum of per-layer aux losses, scaled by 1 / micro-batches, so the
gradients accumulate to the mean), global gradient-norm clipping, AdamW (decoupled weight decay).
The model is tools/bench/model_torch.py's (loaded from the HF directory @moge/trainer wrote), the
batches are the token windows the trainer used (int32 little-endian [n, seq + 1], read in order).

  /usr/bin/python3 tools/bench/trainer_torch.py --model <ckpt dir> --windows <file> --seq 128 \
      --global-batch 8 --micro-batch 4 --steps 5 --warmup 1 --threads 2

Prints one JSON object: median step wall / process-CPU seconds over the timed steps and tokens/s.
"""
import argparse
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from blas_core import openblas_core  # noqa: E402
from model_torch import Model, load_model, median  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--windows", required=True)
    ap.add_argument("--seq", type=int, required=True)
    ap.add_argument("--global-batch", type=int, default=8)
    ap.add_argument("--micro-batch", type=int, default=4)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--clip", type=float, default=1.0)
    ap.add_argument("--alpha", type=float, default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg, w = load_model(args.model)
    alpha = args.alpha if args.alpha is not None else cfg.get("router_aux_loss_coef", 0.01)
    m = Model(cfg, w, requires_grad=True)
    with open(args.windows, "rb") as f:
        raw = bytearray(f.read())
    windows = torch.frombuffer(raw, dtype=torch.int32).view(-1, args.seq + 1).long()
    need = (args.warmup + args.steps) * args.global_batch
    if windows.shape[0] < need:
        sys.exit(f"--windows holds {windows.shape[0]} sequences, {need} needed")
    params = list(m.w.values())
    # Weight decay on matrices only, as @moge/trainer's AdamW does by default (not norms, biases, router_scale).
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), eps=1e-8)
    micro = args.global_batch // args.micro_batch
    walls, cpus, losses = [], [], []
    for step in range(args.warmup + args.steps):
        batch = windows[step * args.global_batch : (step + 1) * args.global_batch]
        c0, t0 = time.process_time(), time.perf_counter()
        opt.zero_grad(set_to_none=True)
        ce_sum = 0.0
        for i in range(micro):
            ids = batch[i * args.micro_batch : (i + 1) * args.micro_batch]
            logits, _, auxes, _ = m.loss(ids[:, : args.seq], alpha)  # forward over seq positions, as ours
            V = logits.shape[-1]
            ce = torch.nn.functional.cross_entropy(logits.reshape(-1, V), ids[:, 1:].reshape(-1))
            ((ce + alpha * sum(auxes)) / micro).backward()
            ce_sum += ce.item()
        torch.nn.utils.clip_grad_norm_(params, args.clip)
        opt.step()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        losses.append(ce_sum / micro)
        if step >= args.warmup:
            walls.append(wall)
            cpus.append(cpu)
    wall, cpu = median(walls), median(cpus)
    tokens = args.global_batch * args.seq
    print(json.dumps({"mode": "train-step", "threads": args.threads, "global_batch": args.global_batch, "micro_batch": args.micro_batch, "seq": args.seq, "wall_s": wall, "cpu_s": cpu, "tokens_per_s": tokens / wall, "losses": losses, "blas_core": openblas_core()}))


if __name__ == "__main__":
    main()
