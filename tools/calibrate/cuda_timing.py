"""CUDA-event timing shared by the calibration scripts (they run from this folder, so `import cuda_timing` works)."""
import torch


def cuda_times(fn, reps, warmup, inner=1):
    """Seconds per call of `fn`, one entry per rep (each rep times `inner` back-to-back calls), sorted.

    Warm-up calls run first and the device is synchronised, so no earlier work is counted; the end event
    is waited on after each rep, so queued work never spills into the next one.
    """
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    times = []
    for _ in range(reps):
        start.record()
        for _ in range(inner):
            fn()
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / 1e3 / inner)
    times.sort()
    return times


def median(times):
    return times[len(times) // 2]
