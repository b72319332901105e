"""The timers the benchmarks share."""
import statistics
import time

import numpy as np


def median_time(fn, repeat):
    """Median wall time in seconds of ``repeat`` calls of ``fn``, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_gflops(repeat):
    """The machine's sgemm speed now: GFLOP/s of NumPy's float32 product of two 4096 x 4096 matrices, median of
    ``repeat``. On a shared machine it tells a slow moment from slow code."""
    a = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)
    return 2 * 4096 ** 3 / median_time(lambda: a @ a, repeat) / 1e9


# After a call, each library's worker threads keep spinning on the cores for a while before they sleep (OpenBLAS's
# for about 2^28 cycles, ~0.1 s): a call of the other library made at once shares its cores with them. Measured
# here with plain alternation: PyTorch's LeNet-5 step 50-83 ms instead of 8, its softmax loss 20 ms instead of
# 0.1. And the first call after a pause pays for waking the sleeping threads (7 ms for PyTorch's softmax loss).
SETTLE_SECONDS = 0.25


def paired_median_times(fn_a, fn_b, repeat):
    """(median seconds of fn_a, of fn_b) over ``repeat`` rounds that run one then the other, after a warm-up of
    each: on a shared machine both see the same load, round by round. In each round each side gets the cores to
    itself: SETTLE_SECONDS of quiet (the other's threads go to sleep), one untimed call (its own threads wake
    up), then the timed call, as in a training loop where the library's calls follow each other."""
    fn_a()
    fn_b()
    times_a, times_b = [], []
    for _ in range(repeat):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            time.sleep(SETTLE_SECONDS)
            fn()
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)
