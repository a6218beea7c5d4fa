"""Dicts of views of one flat buffer, and finding the buffer again."""
import numpy as np
import pytest

from minivae import flat

SHAPES = {"W": (3, 4), "b": (4,), "s": ()}


def test_allocate_tiles_one_buffer_in_order():
    views = flat.allocate(SHAPES, np.float32)
    assert {k: v.shape for k, v in views.items()} == SHAPES
    whole = flat.span(views.values())
    assert whole is not None and whole.size == 17 and whole.dtype == np.float32
    whole[...] = np.arange(17)
    np.testing.assert_array_equal(views["W"], np.arange(12).reshape(3, 4))
    np.testing.assert_array_equal(views["b"], [12, 13, 14, 15])
    assert views["s"] == 16


def test_pack_copies_values_and_casts():
    rng = np.random.default_rng(0)
    arrays = {k: rng.standard_normal(s) for k, s in SHAPES.items()}
    views = flat.pack(arrays, np.float32)
    for k, a in arrays.items():
        assert views[k].dtype == np.float32 and views[k].shape == a.shape
        np.testing.assert_array_equal(views[k], a.astype(np.float32))
    views["b"][0] = 99.0
    assert arrays["b"][0] != 99.0  # a copy, not a view of the inputs
    assert flat.pack(arrays)["W"].dtype == np.float64


def test_span_of_consecutive_part():
    views = flat.allocate(SHAPES, float)
    part = flat.span([views["b"], views["s"]])
    part[...] = 7.0
    assert (views["b"] == 7.0).all() and views["s"] == 7.0 and not (views["W"] == 7.0).any()


@pytest.mark.parametrize("case", ["separate", "reversed", "gap", "transposed", "two buffers", "empty"])
def test_span_is_none_unless_the_arrays_tile_one_buffer(case):
    views = flat.allocate(SHAPES, float)
    other = flat.allocate(SHAPES, float)
    arrays = {
        "separate": [np.zeros((3, 4)), np.zeros(4)],
        "reversed": [views["b"], views["W"]],
        "gap": [views["W"], views["s"]],
        "transposed": [views["W"].T, views["b"]],
        "two buffers": [views["W"], other["b"]],
        "empty": [],
    }[case]
    assert flat.span(arrays) is None


def test_span_answers_again_for_new_arrays():
    views = flat.allocate(SHAPES, float)
    names = list(SHAPES)
    assert flat.span(views[k] for k in names) is not None
    views["b"] = np.zeros(4)  # replaced by an array of its own
    assert flat.span(views[k] for k in names) is None
