"""The explorers' logic, driven the way a student drives them: set a control's value, read the state and the text.

Independent references here are plain loops (a dilated convolution, pooling windows, argmax per window), not
the helpers.kernels functions the widgets use.
"""
import html
import itertools
import types

import numpy as np
import pytest

from helpers.widgets import (ArchitectureExplorer, Pooling, PoolingExplorer, SlidingFilter, SlidingFilterExplorer,
                             architecture_explorer, pooling_explorer, sliding_filter_explorer)

PNG = b"\x89PNG\r\n\x1a\n"


def texts(explorer):
    """The explorer's text as plain strings, one per line (HTML entities decoded)."""
    return [html.unescape(part.split(">", 1)[1]) for part in explorer.text.value.split("</div>") if ">" in part]


def line(explorer, css):
    """The one text line with the CSS class convnets-<css>."""
    found = [html.unescape(part.split(">", 1)[1]) for part in explorer.text.value.split("</div>")
             if f'class="convnets-{css}"' in part]
    assert len(found) == 1, f"expected one convnets-{css} line in {explorer.text.value!r}"
    return found[0]


# -- sliding filter ------------------------------------------------------------------------------------------------
def loop_conv(h, w, weights, stride, pad, dilation, bias):
    """Reference: the dilated cross-correlation of 1..h*w with weights, and the set of input cells it reads."""
    plane = np.pad(np.arange(1.0, h * w + 1).reshape(h, w), pad)
    f = weights.shape[0]
    span = dilation * (f - 1) + 1
    rows = [r for r in range(0, plane.shape[0] - span + 1, stride)]
    cols = [c for c in range(0, plane.shape[1] - span + 1, stride)]
    out = np.zeros((len(rows), len(cols)))
    read = set()
    for i, r in enumerate(rows):
        for j, c in enumerate(cols):
            for p, q in itertools.product(range(f), range(f)):
                out[i, j] += plane[r + dilation * p, c + dilation * q] * weights[p, q]
                read.add((r + dilation * p - pad, c + dilation * q - pad))
            out[i, j] += bias
    return out, read


@pytest.mark.parametrize("h, w, f, stride, pad, dilation", [
    (7, 7, 3, 1, 0, 1), (7, 7, 3, 3, 0, 1), (5, 9, 2, 2, 1, 1), (8, 6, 3, 2, 1, 2), (12, 5, 1, 4, 0, 1),
    (6, 11, 3, 1, 3, 3), (4, 4, 4, 5, 2, 1)])
def test_sliding_state_matches_a_loop_reference(h, w, f, stride, pad, dilation):
    state = SlidingFilter(h, w, f, stride, pad, dilation, bias=0.5)
    expected, read = loop_conv(h, w, state.weights, stride, pad, dilation, 0.5)
    assert state.out_shape == expected.shape
    np.testing.assert_allclose(state.output, expected)
    rows_read = {r for r, _ in read if 0 <= r < h}
    cols_read = {c for _, c in read if 0 <= c < w}
    assert state.uncovered(0) == [r for r in range(h) if r not in rows_read]
    assert state.uncovered(1) == [c for c in range(w) if c not in cols_read]


def test_sliding_explorer_starts_on_the_notebook_example():
    explorer = SlidingFilterExplorer()
    assert explorer.state.out_shape == (5, 5)
    assert line(explorer, "formula-rows").endswith("⌊(7 − 3 + 2·0) / 1⌋ + 1 = ⌊4/1⌋ + 1 = 5")
    assert line(explorer, "fit").startswith("Every input row and column is covered")
    assert bytes(explorer.image.value).startswith(PNG)
    assert "convnets-sliding-filter" in explorer.widget._dom_classes
    assert explorer.position.slider.max == 24


def test_stride_slider_changes_state_formula_and_picture():
    explorer = SlidingFilterExplorer()
    before = explorer.image.value
    explorer.controls["stride"].value = 3
    assert explorer.state.stride == 3 and explorer.state.out_shape == (2, 2)
    assert line(explorer, "formula-cols").endswith("⌊4/3⌋ + 1 = 2 (4/3 = 1.33, rounded down)")
    assert line(explorer, "fit") == ("Does not fit nicely: input rows [6] and columns [6] (0-based, without padding) "
                                     "are never covered, so they cannot change the output.")
    assert explorer.position.slider.max == explorer.position.play.max == 3
    assert explorer.image.value != before


def test_non_square_input_and_dilation():
    explorer = SlidingFilterExplorer(h=5, w=9)
    explorer.controls["dilation"].value = 2
    assert line(explorer, "dilation") == "effective filter size f' = d·(f − 1) + 1 = 2·(3 − 1) + 1 = 5"
    assert explorer.state.out_shape == (1, 5)
    assert line(explorer, "formula-rows").endswith("= ⌊0/1⌋ + 1 = 1")
    assert line(explorer, "formula-cols").endswith("= ⌊4/1⌋ + 1 = 5")


def test_rounding_that_only_drops_padding_is_named():
    explorer = SlidingFilterExplorer(h=5, w=6, f=3, stride=2, pad=1)
    assert line(explorer, "fit").endswith("the rounding down only drops padding.")


def test_dot_product_of_the_worked_example_of_assignment_02():
    explorer = SlidingFilterExplorer(h=3, w=3, f=2, bias=0.5)
    assert line(explorer, "dot") == "out[0, 0] = 1·1 + 2·0 + 4·2 + 5·(-1) + 0.5 = 4.5"
    explorer.position.slider.value = 1
    assert line(explorer, "dot") == "out[0, 1] = 2·1 + 3·0 + 5·2 + 6·(-1) + 0.5 = 6.5"
    explorer.controls["pad"].value = 1
    explorer.controls["stride"].value = 2
    np.testing.assert_allclose(explorer.state.output, [[-0.5, 1.5], [-6.5, 12.5]])
    assert line(explorer, "dot") == "out[0, 1] = 0·1 + 0·0 + 2·2 + 3·(-1) + 0.5 = 1.5"


def test_step_buttons_and_position_clamping():
    explorer = SlidingFilterExplorer()
    back, forward = explorer.position.box.children[1:3]
    back.click()
    assert explorer.state.position == 0
    for _ in range(4):
        forward.click()
    assert explorer.state.position == 4 and explorer.state.cell == (0, 4)
    assert line(explorer, "status").endswith("position 5 of 25")
    explorer.controls["stride"].value = 2           # 3 x 3 outputs: position 4 still exists
    assert explorer.state.cell == (1, 1)
    explorer.controls["stride"].value = 4           # 2 x 2 outputs: the position moves to the last one
    assert explorer.state.position == explorer.position.slider.value == 3


def test_a_filter_larger_than_the_padded_input_shows_a_message():
    explorer = SlidingFilterExplorer(h=3, w=4, f=3)
    explorer.controls["f"].value = 5
    (message,) = texts(explorer)
    assert message.startswith("The filter does not fit: it spans 5 cells, but the padded input is only 3 x 4")
    assert explorer.state.count == 0 and explorer.position.slider.max == 0
    assert bytes(explorer.image.value).startswith(PNG)
    explorer.controls["pad"].value = 1
    assert explorer.state.out_shape == (1, 2) and line(explorer, "formula-rows").endswith("= 1")


@pytest.mark.parametrize("kwargs, error, words", [
    ({"f": 0}, ValueError, "f must be between 1 and 7"), ({"h": 13}, ValueError, "h must be between 1 and 12"),
    ({"stride": 2.0}, TypeError, "stride must be an integer"), ({"pad": -1}, ValueError, "pad must be between 0"),
    ({"dilation": True}, TypeError, "dilation must be an integer"),
    ({"bias": "1"}, TypeError, "bias must be a number")])
def test_sliding_explorer_rejects_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        sliding_filter_explorer(**kwargs)


# -- pooling -------------------------------------------------------------------------------------------------------
def loop_pool(H, r, s, mode):
    """Reference: the pooled map and, per output, the columns of vec(H) it reads (max: the first argmax)."""
    h_out, w_out = (H.shape[0] - r) // s + 1, (H.shape[1] - r) // s + 1
    out, picked = np.zeros((h_out, w_out)), []
    for i, j in itertools.product(range(h_out), range(w_out)):
        window = H[i * s:i * s + r, j * s:j * s + r]
        cells = [(i * s + p) * H.shape[1] + j * s + q for p in range(r) for q in range(r)]
        if mode == "max":
            out[i, j] = window.max()
            picked.append([cells[int(np.argmax(window))]])
        else:
            out[i, j] = window.mean()
            picked.append(cells)
    return out, picked


def test_pooling_explorer_on_the_notes_example():
    explorer = PoolingExplorer()
    np.testing.assert_array_equal(explorer.state.output, [[6, 8], [3, 4]])
    assert [np.flatnonzero(row).tolist() for row in explorer.state.matrix] == [[5], [7], [8], [15]]
    assert line(explorer, "value") == "out[0, 0] = max(1, 1, 5, 6) = 6"
    assert line(explorer, "matrix-row").startswith("row 0 of A_MaxPool: one 1, in column 5 = 1·4 + 1")
    explorer.position.slider.value = 3
    assert line(explorer, "value") == "out[1, 1] = max(1, 0, 3, 4) = 4"
    explorer.controls["mode"].value = "avg"
    np.testing.assert_allclose(explorer.state.output, [[3.25, 5.25], [2, 2]])
    assert line(explorer, "matrix-row").startswith("row 3 of A_AvgPool: 1/4 in columns [10, 11, 14, 15]")
    assert "convnets-pooling" in explorer.widget._dom_classes


@pytest.mark.parametrize("mode, size, stride, seed", [("max", 2, 2, 0), ("max", 3, 2, 1), ("max", 3, 1, 2),
                                                      ("avg", 3, 2, 0), ("avg", 2, 1, 3), ("max", 1, 3, 4)])
def test_pooling_state_matches_a_loop_reference(mode, size, stride, seed):
    state = PoolingExplorer(mode, size, stride, source="random", seed=seed).state
    out, picked = loop_pool(state.map, size, stride, mode)
    np.testing.assert_allclose(state.output, out)
    A = state.matrix
    assert A.shape == (out.size, state.map.size)
    for row, columns in zip(A, picked):
        assert np.flatnonzero(row).tolist() == columns
        np.testing.assert_allclose(row[columns], 1.0 / len(columns))
    np.testing.assert_allclose(A @ state.map.ravel(), out.ravel())


def test_ties_go_to_the_first_maximum_and_are_named():
    state, tied = Pooling(size=3, stride=1, source="random", seed=0), 0
    for k in range(state.count):
        state.set(position=k)
        held, tie_line = state.ties(), state.summary()[4]
        first = held[0][0] * state.map.shape[1] + held[0][1]
        assert np.flatnonzero(state.matrix[k]).tolist() == [first]
        if len(held) > 1:
            tied += 1
            where = ", ".join(f"H[{r}, {c}]" for r, c in held)
            assert tie_line == (
                f"Tie: the maximum {int(state.map[held[0]])} is held {len(held)} times ({where}); the first in "
                f"row-major order, H[{held[0][0]}, {held[0][1]}], gets the 1 (and the gradient), as np.argmax.")
        else:
            assert tie_line == "No tie in this region: the maximum is held once."
    assert tied > 0, "the random map should have ties (integers 0..3)"
    explorer = PoolingExplorer(size=3, stride=1, source="random", seed=0)
    explorer.position.slider.value = k
    assert line(explorer, "ties") == tie_line


def test_pooling_that_does_not_fit_and_a_region_too_large():
    explorer = PoolingExplorer(size=3, stride=2)
    assert line(explorer, "fit").startswith("Does not fit nicely: map rows [3] and columns [3] are in no region")
    assert not explorer.state.matrix[:, [3, 7, 11, 12, 13, 14, 15]].any()
    explorer.controls["size"].value = 5
    (message,) = texts(explorer)
    assert message.startswith("The 5 x 5 region does not fit the 4 x 4 map")
    assert bytes(explorer.image.value).startswith(PNG)
    explorer.controls["source"].value = "random"
    assert explorer.state.out_shape == (1, 1)


def test_new_random_map_button():
    explorer = PoolingExplorer()
    explorer.new_map.click()
    first = explorer.state.map
    assert explorer.controls["source"].value == "random" and first.shape == (6, 6)
    explorer.new_map.click()
    assert not np.array_equal(explorer.state.map, first)


def test_pooling_explorer_rejects_bad_arguments():
    with pytest.raises(ValueError, match="mode must be one of max, avg"):
        pooling_explorer(mode="min")
    with pytest.raises(ValueError, match="source must be one of notes, random"):
        pooling_explorer(source="cifar")
    with pytest.raises(ValueError, match="stride must be between 1 and 4"):
        pooling_explorer(stride=0)


# -- architectures -------------------------------------------------------------------------------------------------
def fake_architectures():
    """A stand-in for helpers.architectures with the same API and two tiny networks."""
    Row = types.SimpleNamespace
    tables = {"Tiny": [Row(name="input", kind="input", output_shape=(1, 8, 8), activations=64, params=0, macs=0),
                       Row(name="conv1", kind="conv", output_shape=(4, 8, 8), activations=256, params=40, macs=2304),
                       Row(name="fc", kind="fc", output_shape=(10,), activations=10, params=2570, macs=2560)],
              "Tinier": [Row(name="input", kind="input", output_shape=(3, 4, 4), activations=48, params=0, macs=0),
                         Row(name="pool", kind="pool", output_shape=(3, 2, 2), activations=12, params=0, macs=0)]}
    return types.SimpleNamespace(
        ARCHITECTURES={name: name for name in tables},
        layer_table=lambda name, input_shape=None: tables[name],
        totals=lambda rows: {key: sum(getattr(r, key) for r in rows) for key in ("params", "activations", "macs")})


def test_architecture_explorer_with_a_fake_module():
    explorer = ArchitectureExplorer(module=fake_architectures())
    assert explorer.controls["name"].options == ("Tiny", "Tinier")
    assert line(explorer, "summary").startswith("Tiny: 3 rows, 2,610 parameters")
    assert "<td>conv1</td><td>conv</td><td>4 x 8 x 8</td><td>256</td><td>40</td><td>2,304</td>" in explorer.table.value
    assert "<td>total</td><td></td><td></td><td>330</td><td>2,610</td><td>4,864</td>" in explorer.table.value
    picture = explorer.image.value
    explorer.controls["log"].value = False
    assert explorer.image.value != picture
    explorer.controls["name"].value = "Tinier"
    assert line(explorer, "summary").startswith("Tinier: 2 rows, 0 parameters (0.0 MiB in float32), 60 activation")
    assert "convnets-architecture" in explorer.widget._dom_classes
    with pytest.raises(ValueError, match="name must be one of Tiny, Tinier"):
        ArchitectureExplorer(name="VGG-16", module=fake_architectures())


def test_architecture_explorer_with_the_course_tables():
    architectures = pytest.importorskip("helpers.architectures")
    explorer = ArchitectureExplorer()
    assert list(explorer.controls["name"].options) == list(architectures.ARCHITECTURES)
    for name in architectures.ARCHITECTURES:
        explorer.controls["name"].value = name
        rows = architectures.layer_table(name)
        assert explorer.table.value.count("<tr>") == len(rows) + 1      # header + layers (+ the bold totals row)
        assert f"{architectures.totals(rows)['params']:,} parameters" in line(explorer, "summary")
        assert bytes(explorer.image.value).startswith(PNG)
    assert "convnets-architecture" in architecture_explorer()._dom_classes
