"""helpers.architectures: the layer tables reproduce the published totals and the notes' per-layer figures."""
from pathlib import Path

import pytest

from helpers import architectures as arch
from helpers.architectures import ARCHITECTURES, layer_table, totals

# Published parameter counts: LeNet-5 with full C3 connections; VGG-16 with biases; ResNets as torchvision
# counts them (convs followed by BN without bias, 2 BN parameters per channel, fc with bias).
PARAMS = {"LeNet-5": 61_706, "VGG-16": 138_357_544, "ResNet-18": 11_689_512, "ResNet-34": 21_797_672,
          "ResNet-50": 25_557_032}

# The notes' GoogLeNet Table 1 per Inception module: input depth, params (K = 1024 weights) and ops (millions).
NOTES_GOOGLENET = {"3a": (192, 159, 128), "3b": (256, 380, 304), "4a": (480, 364, 73), "4b": (512, 437, 88),
                   "4c": (512, 463, 100), "4d": (512, 580, 119), "4e": (528, 840, 170),
                   "5a": (832, 1072, 54), "5b": (832, 1388, 71)}
# Where the table itself is off: 4c's params (497.5K counted) and 5a's params and ops (1018K, 51M counted).
NOTES_MISPRINTS = {"4c": "params", "5a": "both"}


def test_keys_are_the_agreed_names():
    assert list(ARCHITECTURES) == ["LeNet-5", "AlexNet", "VGG-16", "GoogLeNet", "ResNet-18", "ResNet-34",
                                   "ResNet-50"]


@pytest.mark.parametrize("name, expected", PARAMS.items())
def test_parameter_totals_match_the_published_counts(name, expected):
    assert totals(layer_table(name))["params"] == expected


def test_vgg16_rows_match_the_notes_table():
    rows = layer_table("VGG-16")
    assert rows[0].output_shape == (3, 224, 224) and rows[0].activations == 150_528
    convs = [r for r in rows if r.kind == "conv"]
    weights = [1_728, 36_864, 73_728, 147_456, 294_912, 589_824, 589_824, 1_179_648] + [2_359_296] * 5
    assert [r.params - r.output_shape[0] for r in convs] == weights       # the notes list weights only
    assert [r.params for r in rows if r.kind == "fc"] == [102_760_448 + 4096, 16_777_216 + 4096, 4_096_000 + 1000]
    assert [r.output_shape for r in rows if r.kind == "pool"] == [(64, 112, 112), (128, 56, 56), (256, 28, 28),
                                                                 (512, 14, 14), (512, 7, 7)]
    # The notes' slide says 24M values (93 MB) and 128M params; the table's own rows sum to these:
    t = totals(rows)
    assert t["activations"] == 15_237_608 and sum(weights) + 102_760_448 + 16_777_216 + 4_096_000 == 138_344_128
    assert t["macs"] == 15_470_264_320


def test_alexnet_follows_the_notes_output_sizes():
    shapes = [r.output_shape for r in layer_table("AlexNet")]
    assert shapes == [(3, 227, 227), (96, 55, 55), (96, 27, 27), (96, 27, 27), (256, 27, 27), (256, 13, 13),
                      (256, 13, 13), (384, 13, 13), (384, 13, 13), (256, 13, 13), (256, 6, 6), (4096,), (4096,),
                      (1000,)]
    assert layer_table("AlexNet")[1].params == 11 * 11 * 3 * 96 + 96      # the notes' "35K"


def test_lenet5_follows_the_notes_feature_maps():
    shapes = [r.output_shape for r in layer_table("LeNet-5")]
    assert shapes == [(1, 32, 32), (6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1), (84,), (10,)]


@pytest.mark.parametrize("module", NOTES_GOOGLENET)
def test_googlenet_modules_against_the_notes_table(module):
    depth, params_k, ops_m = NOTES_GOOGLENET[module]
    spec = arch.GOOGLENET_INCEPTION[module]
    rows = layer_table("GoogLeNet")
    index = next(i for i, r in enumerate(rows) if r.name == f"inception ({module})")
    assert rows[index - 1].output_shape[0] == depth
    shape, weights, macs = arch.inception_counts(rows[index - 1].output_shape, *spec, bias=False)
    assert shape == rows[index].output_shape and macs == rows[index].macs
    assert rows[index].params == weights + sum(spec[:3]) + sum(spec[3:])   # one bias per filter
    misprint = NOTES_MISPRINTS.get(module, "")
    if misprint not in ("params", "both"):
        assert abs(weights / 1024 - params_k) <= 0.02 * params_k, weights / 1024
    else:
        assert abs(weights / 1024 - params_k) > 0.04 * params_k
    if misprint != "both":
        assert abs(macs / 1e6 - ops_m) < 1, macs / 1e6
    else:
        assert abs(macs / 1e6 - ops_m) > 2


def test_inception_3a_3b_exact_counts_and_the_naive_module():
    assert arch.inception_counts((192, 28, 28), 64, 96, 128, 16, 32, 32, bias=False) == (
        (256, 28, 28), 163_328, 128_049_152)
    assert arch.inception_counts((256, 28, 28), 128, 128, 192, 32, 96, 64, bias=False) == (
        (480, 28, 28), 388_096, 304_267_264)
    # The naive module of the lecture (no 1x1 reductions, the pooled input concatenated): 854M ops.
    assert arch.inception_counts((256, 28, 28), 128, 0, 192, 0, 96, 0, reduce=False, bias=False) == (
        (672, 28, 28), 1_089_536, 854_196_224)


def test_resnet_blocks_projection_only_where_the_shape_changes():
    assert arch.basic_block_counts((64, 56, 56), 64) == ((64, 56, 56), 2 * (9 * 64 * 64 + 128),
                                                         2 * 56 * 56 * 9 * 64 * 64)
    out, params, macs = arch.basic_block_counts((64, 56, 56), 128, stride=2)
    assert out == (128, 28, 28)
    assert params == 9 * 64 * 128 + 256 + 9 * 128 * 128 + 256 + 64 * 128 + 256
    assert arch.bottleneck_counts((256, 56, 56), 64) == (
        (256, 56, 56), 256 * 64 + 128 + 9 * 64 * 64 + 128 + 64 * 256 + 512,
        56 * 56 * (256 * 64 + 9 * 64 * 64 + 64 * 256))
    projection = 64 * 256 + 512      # 64 -> 256 channels at stride 1: the shape changes
    body = 64 * 64 + 128 + 9 * 64 * 64 + 128 + 64 * 256 + 512
    assert arch.bottleneck_counts((64, 56, 56), 64)[1] == body + projection


def test_most_memory_early_most_params_in_fc():
    rows = layer_table("VGG-16")[1:]
    first_half = rows[:len(rows) // 2]
    assert sum(r.activations for r in first_half) > 0.8 * sum(r.activations for r in rows)
    assert sum(r.params for r in rows if r.kind == "fc") > 0.85 * totals(rows)["params"]


def test_rows_are_consistent_and_inputs_can_change():
    for name in ARCHITECTURES:
        for row in layer_table(name):
            size = 1
            for v in row.output_shape:
                size *= v
            assert row.activations == size and row.params >= 0 and row.macs >= 0
    cifar = layer_table("ResNet-18", input_shape=(3, 32, 32))
    assert cifar[-2].output_shape == (512, 1, 1)
    assert totals(cifar)["params"] == PARAMS["ResNet-18"]     # global pooling: params do not depend on the input


def test_swapped_counters_are_used():
    def no_bias(in_shape, filters, size, stride=1, pad=0, bias=True, bn=False):
        return arch.conv_counts(in_shape, filters, size, stride, pad, False, bn)
    rows = layer_table("VGG-16", counters={"conv": no_bias})
    assert totals(rows)["params"] == 138_357_544 - (2 * 64 + 2 * 128 + 3 * 256 + 6 * 512)


def test_bad_input_is_rejected_with_a_clear_message():
    with pytest.raises(KeyError, match="unknown network"):
        layer_table("VGG-17")
    with pytest.raises(ValueError, match="larger than the padded input"):
        arch.conv_counts((3, 4, 4), 8, 7)
    with pytest.raises(ValueError, match="in_shape"):
        arch.conv_counts((3, 32), 8, 3)
    with pytest.raises(ValueError, match="unknown kind"):
        layer_table({"input": (3, 8, 8), "layers": [{"kind": "dropout", "name": "d"}]})


def _resnet_conv_filters(name):
    """Filters of every conv in a ResNet's description (the 7x7 stem, each block's convs, the projections),
    walked here on its own: the number of biases a conv bias everywhere would add."""
    description = ARCHITECTURES[name]
    filters, channels = 0, description["input"][0]
    for layer in description["layers"]:
        if layer["kind"] == "conv":
            filters += layer["filters"]
            channels = layer["filters"]
        elif layer["kind"] == "bottleneck":
            out = layer["expansion"] * layer["width"]
            projection = layer["stride"] != 1 or channels != out
            filters += 2 * layer["width"] + out + (out if projection else 0)
            channels = out
    return filters


def test_the_notebooks_remarks_on_biases(monkeypatch):
    # Assignment 04 says how many parameters a bias in every conv of ResNet-50 (the stem included) would add,
    # and that GoogLeNet has 6.99M weights.
    biases = _resnet_conv_filters("ResNet-50")
    assert biases == 64 + sum((6 * w + 4 * w) + (n - 1) * 6 * w for w, n in zip((64, 128, 256, 512), (3, 4, 6, 3)))
    conv = arch.conv_counts

    def with_bias(in_shape, filters, size, stride=1, pad=0, bias=True, bn=False):
        return conv(in_shape, filters, size, stride, pad, True, bn)
    monkeypatch.setattr(arch, "conv_counts", with_bias)      # the convs inside the blocks (via _chain, _shortcut)
    rows = layer_table("ResNet-50", counters={"conv": with_bias})   # and the stem conv1, a layer of its own
    assert totals(rows)["params"] == PARAMS["ResNet-50"] + biases
    notebook = (Path(__file__).resolve().parents[1] / "solutions" / "04_resnets" / "resnets.ipynb").read_text()
    assert f"ResNet-50 gains {biases:,d} parameters" in notebook
    monkeypatch.setattr(arch, "conv_counts", conv)
    rows = layer_table("GoogLeNet")
    biases = sum(r.output_shape[0] for r in rows if r.kind in ("conv", "fc"))
    biases += sum(c1 + c3 + c5 + pool_proj + c3r + c5r
                  for c1, c3r, c3, c5r, c5, pool_proj in arch.GOOGLENET_INCEPTION.values())
    assert totals(rows)["params"] - biases == 6_990_272
