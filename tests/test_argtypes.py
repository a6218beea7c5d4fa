"""The command line's argument types."""
import argparse

import pytest

from minivae.argtypes import count, positive_count, step_size


def test_counts_accept_scientific_notation_and_check_their_minimum():
    assert count("0") == 0 and count("1e6") == 1_000_000 and positive_count("250000") == 250_000
    for parse, bad in ((count, "-1"), (count, "2.5"), (positive_count, "0"), (count, "many")):
        with pytest.raises(argparse.ArgumentTypeError):
            parse(bad)


def test_step_sizes_must_be_positive_numbers():
    assert step_size("0.02") == 0.02
    for bad in ("0", "-0.1", "fast"):
        with pytest.raises(argparse.ArgumentTypeError):
            step_size(bad)
