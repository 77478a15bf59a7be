#!/usr/bin/env python3
"""NCCL collective microbenchmarks over the GPUs of one host (nccl-tests conventions), for calibrating
@moge/ascend-hal's collective model on HGX H200 (NVLink).

Run on the device machine:  torchrun --nproc_per_node=<gpus> tools/calibrate/h200_collectives.py --out $OUT/h200-collectives.json
`bytes` is the per-rank buffer size as nccl-tests reports it (all-reduce: the buffer reduced; all-gather:
the output size; reduce-scatter: the input size; all-to-all: the send buffer). algbw = bytes / time;
busbw = algbw × 2(n−1)/n (all-reduce) or × (n−1)/n (all-gather, reduce-scatter, all-to-all).
NVLink multicast (NVLS) stays off, as the machine's environment sets it.
"""
import argparse, json, os, time
import torch
import torch.distributed as dist

p = argparse.ArgumentParser()
p.add_argument('--out', required=True)
p.add_argument('--reps', type=int, default=20)
p.add_argument('--warmup', type=int, default=5)
args = p.parse_args()
assert os.environ.get('NCCL_NVLS_ENABLE', '0') == '0'
dist.init_process_group('nccl')
rank, world = dist.get_rank(), dist.get_world_size()
torch.cuda.set_device(rank)
dev = torch.device('cuda', rank)
rows = []
for op in ['all-reduce', 'all-gather', 'reduce-scatter', 'all-to-all']:
    for nbytes in [1 << 10, 1 << 14, 1 << 17, 1 << 20, 1 << 23, 1 << 26, 1 << 28, 1 << 30]:
        n = nbytes // 2  # bf16 elements
        n -= n % world
        if op == 'all-reduce':
            buf = torch.ones(n, device=dev, dtype=torch.bfloat16)
            fn = lambda: dist.all_reduce(buf)
        elif op == 'all-gather':
            out = torch.empty(n, device=dev, dtype=torch.bfloat16)
            inp = torch.ones(n // world, device=dev, dtype=torch.bfloat16)
            fn = lambda: dist.all_gather_into_tensor(out, inp)
        elif op == 'reduce-scatter':
            inp = torch.ones(n, device=dev, dtype=torch.bfloat16)
            out = torch.empty(n // world, device=dev, dtype=torch.bfloat16)
            fn = lambda: dist.reduce_scatter_tensor(out, inp)
        else:
            inp = torch.ones(n, device=dev, dtype=torch.bfloat16)
            out = torch.empty(n, device=dev, dtype=torch.bfloat16)
            fn = lambda: dist.all_to_all_single(out, inp)
        for _ in range(args.warmup):
            fn()
        torch.cuda.synchronize()
        dist.barrier()
        t0 = time.perf_counter()
        for _ in range(args.reps):
            fn()
        torch.cuda.synchronize()
        dt = (time.perf_counter() - t0) / args.reps
        t = torch.tensor([dt], device=dev)
        dist.all_reduce(t, op=dist.ReduceOp.MAX)
        dt = t.item()
        factor = 2 * (world - 1) / world if op == 'all-reduce' else (world - 1) / world
        algbw = n * 2 / dt
        rows.append({'op': op, 'ranks': world, 'bytes': n * 2, 'timeS': dt, 'algBandwidth': algbw,
                     'busBandwidth': algbw * factor})
if rank == 0:
    with open(args.out, 'w') as f:
        json.dump({'meta': {'device': torch.cuda.get_device_name(0), 'torch': torch.__version__,
                            'nccl': '.'.join(map(str, torch.cuda.nccl.version())), 'ranks': world,
                            'reps': args.reps, 'warmup': args.warmup, 'date': time.strftime('%Y-%m-%d'),
                            'conventions': 'nccl-tests: bytes per rank, busbw = algbw x 2(n-1)/n (all-reduce) or (n-1)/n'},
                   'rows': rows}, f, indent=1)
    print(json.dumps(rows[-1]))
dist.destroy_process_group()
