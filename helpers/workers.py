"""The engine's own threads: its block loops run on one worker per core, with NumPy's BLAS on one thread.

A convolution in ``helpers.kernels`` is a loop of small steps: copy a block of windows into columns, multiply the
block with the filters. Left to itself, NumPy's BLAS runs each product on every core, but each copy runs on one,
and after each product OpenBLAS's threads spin for a while (about 0.1 s) waiting for the next one, holding the
other cores from whatever runs next. Here workers take the blocks instead, one worker per core, each copying and
multiplying the blocks it takes with a one-thread BLAS: a copy on one core overlaps a product on the other, and no
thread spins. NumPy releases the GIL in copies and products, so Python threads suffice. Measured on 2 cores: the
mini VGG's 60 training steps and evaluation 59-67 s -> 41-53 s, a LeNet-5 epoch 16.6-18.8 s -> 13.1-14.9.

- ``one_blas_thread``: decorator for the kernels that call BLAS; the limit holds while they run, and the BLAS
  gets back its threads afterwards (students' own code and the sgemm benchmark keep them).
- ``map_blocks(xp, work, blocks)``: ``work`` called by each worker, all of them taking blocks from one iterator
  until none are left. The calling thread works too: a worker thread that has been idle takes 30-160 us to wake
  here, and meanwhile the caller has started; a late worker takes fewer blocks and delays nothing.

As many workers as the BLAS had threads when the engine started: ``OPENBLAS_NUM_THREADS=1`` (as the grader's
Dask workers set) makes it one, and everything then runs in the calling thread, as it does on the GPU (CuPy),
where the blocks are kernel launches.
"""
import functools
import os
from concurrent.futures import ThreadPoolExecutor, wait

import numpy as np

try:
    from threadpoolctl import ThreadpoolController
except ImportError as exc:  # a checkout installed before the course needed it
    raise ImportError("helpers needs threadpoolctl, which this environment lacks: run `make install` again "
                      "(or `pip install threadpoolctl`)") from exc

_blas = ThreadpoolController().select(user_api="blas").lib_controllers  # NumPy's BLAS, as threadpoolctl sees it
# the BLAS's threads at import: the cores the engine may use (1 with no BLAS that threadpoolctl can see)
WORKERS = max([lib.num_threads for lib in _blas] or [1])


def _new_pool():
    """The threads besides the calling one: WORKERS - 1 of them."""
    return ThreadPoolExecutor(WORKERS - 1, thread_name_prefix="helpers-kernels") if WORKERS > 1 else None


def _renew_pool_in_child():
    """A forked process inherits the pool but not its threads: it gets a pool of its own, or map would wait forever."""
    global _pool
    _pool = _new_pool()


_pool = _new_pool()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_renew_pool_in_child)


def one_blas_thread(kernel):
    """``kernel`` with NumPy's BLAS limited to one thread while it runs: its products run on the workers of
    map_blocks, or on one core between them, and never leave BLAS threads spinning behind. The BLAS gets back
    the threads it had, also when the kernel raises. (Setting the libraries' threads directly costs 4 us a call
    here; threadpoolctl's ``limit`` context, 27 us: a LeNet-5 step makes 10 such calls, ResNet-20 about 80.)"""
    if _pool is None:
        return kernel

    @functools.wraps(kernel)
    def limited(*args, **kwargs):
        before = [lib.num_threads for lib in _blas]
        for lib in _blas:
            lib.set_num_threads(1)
        try:
            return kernel(*args, **kwargs)
        finally:
            for lib, threads in zip(_blas, before):
                lib.set_num_threads(threads)
    return limited


def map_blocks(xp, work, blocks):
    """[work(blocks) from each worker], all of them drawing on one iterator over the blocks: each takes the next
    block when it is free, the calling thread being one of them (it starts at once, while the others wake up).
    [work(blocks)] in the calling thread alone on the GPU, with one worker, or with a single block.

    ``work`` loops over what it is given and must be safe to run concurrently on different blocks: writing
    disjoint parts of an output, or returning a partial result for the caller to add up (possibly of no blocks).
    """
    blocks = list(blocks)
    if _pool is None or xp is not np or len(blocks) < 2:
        return [work(blocks)]
    shared = iter(blocks)  # next() on it is one step under the GIL: no block is given twice
    others = [_pool.submit(work, shared) for _ in range(min(WORKERS, len(blocks)) - 1)]
    try:
        mine = work(shared)
    finally:
        wait(others)  # also after an error here: no thread may still be writing when the caller moves on
    return [mine] + [other.result() for other in others]
