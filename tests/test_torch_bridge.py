"""The optional comparison with PyTorch in notebooks 02-04: it says how to install PyTorch when it is missing,
finds the course's kernels the same as PyTorch's, and finds a wrong layer different."""
import importlib.util

import pytest

from helpers import kernels, torch_bridge

HAS_TORCH = importlib.util.find_spec("torch") is not None
needs_torch = pytest.mark.skipif(not HAS_TORCH, reason="PyTorch is not installed (pip install torch); the "
                                                       "comparison itself is skipped")


def test_without_pytorch_each_comparison_says_how_to_install_it(monkeypatch, capsys):
    monkeypatch.setattr(torch_bridge, "_torch", lambda: None)
    assert torch_bridge.compare_conv(kernels.conv_forward, kernels.conv_backward) is None
    assert torch_bridge.compare_batchnorm(kernels.batchnorm_forward, kernels.batchnorm_backward) is None
    assert capsys.readouterr().out.count("pip install torch") == 2


@needs_torch
def test_the_course_kernels_are_the_same_as_pytorchs():
    rows = (torch_bridge.compare_conv(kernels.conv_forward, kernels.conv_backward)
            + torch_bridge.compare_pooling(kernels.max_pool_forward, kernels.max_pool_backward,
                                           kernels.avg_pool_forward, kernels.avg_pool_backward)
            + torch_bridge.compare_batchnorm(kernels.batchnorm_forward, kernels.batchnorm_backward))
    assert len(rows) == 8 + 12 + 2
    assert all(same for _, _, same in rows), [r for r in rows if not r[2]]


@needs_torch
def test_a_wrong_or_missing_layer_is_shown(capsys):
    def db_forgotten(dout, cache):
        dx, dw, db = kernels.conv_backward(dout, cache)
        return dx, dw, 0 * db

    def momentum_swapped(x, gamma, beta, bn_param):
        param = dict(bn_param, momentum=1 - bn_param["momentum"])
        out, cache = kernels.batchnorm_forward(x, gamma, beta, param)
        bn_param.update(running_mean=param["running_mean"], running_var=param["running_var"])
        return out, cache

    def todo(*args):
        raise NotImplementedError

    conv = torch_bridge.compare_conv(kernels.conv_forward, db_forgotten)
    assert [same for _, _, same in conv] == [True, False] * 4
    norm = torch_bridge.compare_batchnorm(momentum_swapped, kernels.batchnorm_backward)
    assert [same for _, _, same in norm] == [False, True]
    pooling = torch_bridge.compare_pooling(todo, todo, kernels.avg_pool_forward, kernels.avg_pool_backward)
    assert [same for _, _, same in pooling] == [False] * 6 + [True] * 6
    out = capsys.readouterr().out
    assert "DIFFERENT" in out and "max pool 2x2, stride 2: out: not implemented yet" in out
