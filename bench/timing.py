"""The timers the benchmarks share."""
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


def paired_median_times(fn_a, fn_b, repeat):
    """(median seconds of fn_a, of fn_b) over ``repeat`` rounds that call one then the other, after a warm-up of
    each: on a shared machine both see the same load, round by round."""
    fn_a()
    fn_b()
    times_a, times_b = [], []
    for _ in range(repeat):
        for fn, times in ((fn_a, times_a), (fn_b, times_b)):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return statistics.median(times_a), statistics.median(times_b)
