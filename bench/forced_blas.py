"""Benchmarks run NumPy's BLAS at its best: without the variables that force OpenBLAS's older kernel.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE (set on some machines, because older OpenBLAS builds crashed on their
processors) make OpenBLAS use an older, slower kernel than the processor supports. A benchmark calls
``rerun_without_forced_blas()`` before NumPy is imported (OpenBLAS reads them once, when it loads): when either is
set, the script re-executes itself without them, in its own process only, and says so; ``unset_note()`` then gives
what was removed, for the record. Tests and CI keep them as they are.
"""
import os
import sys

FORCED_BLAS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
UNSET_NOTE = "BENCH_FORCED_BLAS_UNSET"  # what the re-run removed


def rerun_without_forced_blas():
    """Re-executes the running script without FORCED_BLAS in its environment when any of them is set."""
    forced = {name: os.environ[name] for name in FORCED_BLAS if name in os.environ}
    if forced:
        note = ", ".join(f"{name}={value}" for name, value in forced.items())
        print(f"{note} set: they force an older OpenBLAS kernel; re-running this benchmark without them "
              "(only this process and its children)", flush=True)
        env = {k: v for k, v in os.environ.items() if k not in FORCED_BLAS}
        env[UNSET_NOTE] = note
        os.execve(sys.executable, [sys.executable, *sys.argv], env)


def unset_note():
    """The variables the re-run removed ("" when none was set)."""
    return os.environ.get(UNSET_NOTE, "")
