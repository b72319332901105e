"""The one timer the benchmarks share."""
import statistics
import time


def median_time(fn, repeat):
    """Median wall time in seconds of ``repeat`` calls of ``fn``, after one warm-up call."""
    fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
