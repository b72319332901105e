"""The reference solutions agree with the helpers' fast kernels: convolution (assignment 02) to 1e-10 in float64,
max and average pooling (assignment 03) on random inputs without ties."""
import nbformat
import numpy as np
import pytest

from autograder.course import SOLUTIONS
from helpers import kernels
from studentwork import solution_code

CONVOLUTION = SOLUTIONS / "02_convolution" / "convolution.ipynb"
POOLING = SOLUTIONS / "03_pooling" / "pooling.ipynb"


def solution_namespace(path):
    """The functions of an instructor notebook: its read-only code cells that draw nothing, then its solutions."""
    namespace = {}
    for cell in nbformat.read(path, as_version=4).cells:
        meta = cell.metadata.get("nbgrader", {})
        if cell.cell_type != "code" or meta.get("grade"):
            continue
        if meta.get("solution"):
            exec(solution_code(cell.source), namespace)
        elif "plt." not in cell.source and "display(" not in cell.source:
            try:
                exec(cell.source, namespace)
            except Exception:  # noqa: BLE001 - a demo cell that needs a student function; not a definition
                pass
    return namespace


def random_configs(rng, count=12):
    for _ in range(count):
        n, c, f = rng.integers(1, 4), rng.integers(1, 4), rng.integers(1, 5)
        hh, ww = rng.integers(1, 5), rng.integers(1, 5)
        pad, stride = rng.integers(0, 3), rng.integers(1, 4)
        h, w = hh + rng.integers(0, 7), ww + rng.integers(0, 7)
        yield (n, c, h, w), (f, c, hh, ww), int(stride), int(pad)


def test_convolution_agrees_with_the_fast_kernels():
    solution = solution_namespace(CONVOLUTION)
    rng = np.random.default_rng(2024)
    for x_shape, w_shape, stride, pad in random_configs(rng):
        x, w, b = rng.normal(size=x_shape), rng.normal(size=w_shape), rng.normal(size=w_shape[0])
        out, cache = solution["conv_forward"](x, w, b, stride=stride, pad=pad)
        fast_out, fast_cache = kernels.conv_forward(x, w, b, stride=stride, pad=pad)
        np.testing.assert_allclose(out, fast_out, rtol=1e-10, atol=1e-10)
        dout = rng.normal(size=out.shape)
        for mine, fast in zip(solution["conv_backward"](dout, cache), kernels.conv_backward(dout, fast_cache)):
            np.testing.assert_allclose(mine, fast, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_agrees_with_the_fast_kernels(kind):
    solution = solution_namespace(POOLING)
    forward, backward = solution[f"{kind}_pool_forward"], solution[f"{kind}_pool_backward"]
    fast_forward, fast_backward = getattr(kernels, f"{kind}_pool_forward"), getattr(kernels, f"{kind}_pool_backward")
    rng = np.random.default_rng(7)
    for _ in range(12):
        size, stride = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        x = rng.normal(size=(int(rng.integers(1, 4)), int(rng.integers(1, 4)),
                             size + int(rng.integers(0, 6)), size + int(rng.integers(0, 6))))  # no ties
        out, cache = forward(x, size=size, stride=stride)
        fast_out, fast_cache = fast_forward(x, size=size, stride=stride)
        np.testing.assert_allclose(out, fast_out, rtol=1e-12, atol=1e-12)
        dout = rng.normal(size=out.shape)
        np.testing.assert_allclose(backward(dout, cache), fast_backward(dout, fast_cache), rtol=1e-12, atol=1e-12)
