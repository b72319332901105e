"""The engine's worker threads (helpers.workers): how blocks are shared, the BLAS limit, overlapping additions, fork."""
import inspect
import multiprocessing
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
from threadpoolctl import threadpool_info

from helpers import kernels, workers


def blas_threads():
    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


def test_every_block_is_worked_on_once_and_the_caller_works_too():
    caller = threading.get_ident()

    def work(share):
        done = []
        for block in share:
            time.sleep(0.001)  # long enough for every worker to take some
            done.append(block)
        return threading.get_ident(), done
    results = workers.map_blocks(np, work, range(40))
    assert sorted(b for _, done in results for b in done) == list(range(40))
    assert results[0][0] == caller
    assert len(results) == workers.WORKERS


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
    with pytest.raises(ValueError):
        kernels.conv_forward(x, np.ones((5, 4, 3, 3)), np.zeros(5))  # 4 channels for an input of 3
    assert blas_threads() == before, "also after a kernel raised"


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


def _every_kernel(rng):
    """Each kernel that shares work among the workers, on inputs of several blocks: name -> outputs (float64)."""
    x = rng.standard_normal((8, 64, 32, 32))  # 4 images a cache block: 2 blocks of the batch
    dout_pooled = rng.standard_normal((8, 64, 16, 16))
    gamma, beta = rng.standard_normal(64), rng.standard_normal(64)
    results = {}
    out, cache = kernels.max_pool_forward(x, 2, 2)
    results["max pool"] = (out, kernels.max_pool_backward(dout_pooled, cache))
    out, cache = kernels.max_pool_forward(x, 3, 2)  # overlapping regions: added gradients
    results["max pool 3/2"] = (out, kernels.max_pool_backward(rng.standard_normal(out.shape), cache))
    out, cache = kernels.avg_pool_forward(x, 2, 2)
    results["average pool"] = (out, kernels.avg_pool_backward(dout_pooled, cache))
    for mode in ("train", "test"):
        bn_param = {"mode": mode, "running_mean": rng.standard_normal(64), "running_var": rng.random(64) + 0.5}
        out, cache = kernels.batchnorm_forward(x, gamma, beta, bn_param)
        results[f"batch norm {mode}"] = (out, *kernels.batchnorm_backward(rng.standard_normal(x.shape), cache))
    xa, wa = rng.standard_normal((128, 300)), rng.standard_normal((300, 70))
    out, cache = kernels.affine_forward(xa, wa, rng.standard_normal(70))
    results["affine"] = (out, *kernels.affine_backward(rng.standard_normal(out.shape), cache))
    xc = rng.standard_normal((8, 16, 20, 20))
    for name, (w, stride, pad) in {"conv flat": (rng.standard_normal((24, 16, 3, 3)), 1, 1),
                                   "conv far fewer in than out": (rng.standard_normal((40, 16, 3, 3)), 1, 1),
                                   "conv phases": (rng.standard_normal((6, 16, 5, 5)), 1, 0),
                                   "conv stride 2": (rng.standard_normal((24, 16, 3, 3)), 2, 1)}.items():
        out, cache = kernels.conv_forward(xc, w, rng.standard_normal(len(w)), stride=stride, pad=pad)
        results[name] = (out, *kernels.conv_backward(rng.standard_normal(out.shape), cache))
    return results


@pytest.mark.skipif(workers.WORKERS == 1, reason="one core: nothing is shared out")
def test_the_workers_compute_what_one_thread_computes(monkeypatch):
    shared = _every_kernel(np.random.default_rng(3))
    monkeypatch.setattr(workers, "_pool", None)  # map_blocks then runs everything in this thread
    alone = _every_kernel(np.random.default_rng(3))
    for name, arrays in alone.items():
        for got, expected in zip(shared[name], arrays):
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=name)


@pytest.mark.skipif(workers.WORKERS == 1, reason="one core: nothing is shared out")
def test_sums_over_blocks_come_out_the_same_in_every_run():
    """Whichever worker takes which block, partial sums are added in the blocks' order: bit for bit the same."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((32, 32, 32, 32)).astype(np.float32)
    out, cache = kernels.conv_forward(x, rng.standard_normal((32, 32, 3, 3)).astype(np.float32),
                                      np.zeros(32, np.float32), stride=1, pad=1)
    dout = rng.standard_normal(out.shape).astype(np.float32)
    xl = rng.standard_normal((256, 3, 32, 32)).astype(np.float32)  # LeNet-5's first layer: phases
    out_l, cache_l = kernels.conv_forward(xl, rng.standard_normal((6, 3, 5, 5)).astype(np.float32),
                                          np.zeros(6, np.float32))
    dout_l = rng.standard_normal(out_l.shape).astype(np.float32)
    gamma, beta = np.ones(32, np.float32), np.zeros(32, np.float32)

    def run():
        bn_out, bn_cache = kernels.batchnorm_forward(x, gamma, beta, {"mode": "train"})
        return (kernels.conv_backward(dout, cache)[1], kernels.conv_param_grads(dout_l, cache_l)[0], bn_out,
                *kernels.batchnorm_backward(dout, bn_cache)[1:])
    first = run()
    for _ in range(6):
        for got, expected in zip(run(), first):
            np.testing.assert_array_equal(got, expected)


def test_an_environment_without_threadpoolctl_is_told_how_to_mend_it():
    code = ("import sys; sys.modules['threadpoolctl'] = None\n"
            "try:\n    import helpers.workers\nexcept ImportError as exc:\n    print(exc)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert "make install" in result.stdout, result.stdout + result.stderr


class _AnotherArrayModule:
    """NumPy under another name: the kernels take the branches they take for CuPy (one block, one product, einsum)."""

    def __getattr__(self, name):
        return getattr(np, name)


def test_the_branches_for_cupy_compute_what_numpy_computes(monkeypatch):
    on_numpy = _every_kernel(np.random.default_rng(4))
    monkeypatch.setattr(kernels, "array_module", lambda *arrays: _AnotherArrayModule())
    elsewhere = _every_kernel(np.random.default_rng(4))
    for name, arrays in on_numpy.items():
        for got, expected in zip(elsewhere[name], arrays):
            np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10, err_msg=name)
