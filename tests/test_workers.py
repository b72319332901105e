"""The engine's worker threads (helpers.workers): how blocks are shared, the BLAS limit, overlapping additions, fork."""
import inspect
import multiprocessing
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from helpers import kernels, workers


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_blocks_are_dealt_round_robin_to_the_workers():
    shares = workers.map_blocks(np, lambda share: share, range(7))
    if workers.WORKERS == 1:
        assert shares == [list(range(7))]
    else:
        assert sorted(b for share in shares for b in share) == list(range(7))
        assert shares[0][:2] == [0, workers.WORKERS], "worker 0 takes blocks 0, W, 2W, ..."


def test_on_another_array_module_everything_runs_in_the_calling_thread():
    caller = threading.get_ident()
    shares = workers.map_blocks(object(), lambda share: (threading.get_ident(), share), [1, 2, 3])
    assert shares == [(caller, [1, 2, 3])], "CuPy's blocks are kernel launches: no threads"


@pytest.mark.skipif(workers.WORKERS == 1, reason="one core: the BLAS is never limited")
def test_kernels_hold_the_blas_to_one_thread_only_while_they_run():
    before = blas_threads()
    seen = workers.one_blas_thread(blas_threads)()
    assert seen == [1] * len(before)
    x = np.random.default_rng(0).standard_normal((4, 3, 8, 8))
    kernels.conv_forward(x, np.ones((5, 3, 3, 3)), np.zeros(5), stride=1, pad=1)
    assert blas_threads() == before, "the students' own code gets every BLAS thread back"


def test_the_kernels_keep_their_signatures():
    assert list(inspect.signature(kernels.conv_forward).parameters) == ["x", "w", "b", "stride", "pad"]
    assert kernels.batchnorm_backward.__doc__.startswith("Gradients of batchnorm_forward")


@pytest.mark.parametrize("length, reach", [(2000, 1900), (500, 700)], ids=["two rounds", "blocks shorter than reach"])
def test_overlapping_additions_add_up_as_one_thread_would(length, reach):
    """Slices long enough that NumPy releases the GIL while adding: two workers adding to the same numbers at once
    would lose some of the additions."""
    size = 200_000
    blocks = [(start, min(start + length, size)) for start in range(0, size, length)]
    offsets = range(0, reach + 1, 100)  # several strided adds per block, as the kernels make
    total = np.zeros(size + reach)

    def add_back(share):
        for start, stop in share:
            for offset in offsets:
                total[start + offset:stop + offset] += 1
    for _ in range(50):
        kernels._add_in_two_rounds(np, add_back, blocks, reach)
    expected = np.zeros(size + reach)
    for start, stop in blocks:
        for offset in offsets:
            expected[start + offset:stop + offset] += 50
    np.testing.assert_array_equal(total, expected)


def test_blocks_come_in_a_multiple_of_the_workers_and_cover_everything():
    for positions in (1, 255, 1000, 139_392):
        blocks = kernels._blocks(positions, 288, 32)
        assert blocks[0][0] == 0 and blocks[-1][1] == positions
        assert all(a[1] == b[0] for a, b in zip(blocks, blocks[1:]))
        if positions >= workers.WORKERS:
            assert len(blocks) % workers.WORKERS == 0
    images = kernels._image_blocks(128, 70, 180, 32)
    assert images[0][0] == 0 and images[-1][1] == 128 and len({b - a for a, b in images}) == 1


def _convolve_in_child(queue):
    x = np.random.default_rng(1).standard_normal((16, 8, 16, 16))
    out, _ = kernels.conv_forward(x, np.ones((8, 8, 3, 3)), np.zeros(8), stride=1, pad=1)
    queue.put(float(out.sum()))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods() or workers.WORKERS == 1,
                    reason="needs fork and more than one worker")
def test_a_forked_process_gets_workers_of_its_own():
    kernels.conv_forward(np.ones((2, 8, 16, 16)), np.ones((8, 8, 3, 3)), np.zeros(8), stride=1, pad=1)  # pool up
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    child = context.Process(target=_convolve_in_child, args=(queue,))
    child.start()
    child.join(timeout=60)
    alive = child.is_alive()
    if alive:
        child.kill()
    assert not alive, "the forked process hung waiting for its parent's worker threads"
    x = np.random.default_rng(1).standard_normal((16, 8, 16, 16))
    expected, _ = kernels.conv_forward(x, np.ones((8, 8, 3, 3)), np.zeros(8), stride=1, pad=1)
    assert queue.get(timeout=5) == pytest.approx(float(expected.sum()))
