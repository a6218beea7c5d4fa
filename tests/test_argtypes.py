"""The command line's argument types."""
import argparse

import pytest

from minivae.cli.argtypes import count, positive_count, run_dir, step_size


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


def test_infinity_is_neither_a_count_nor_a_step_size():
    for parse in (count, positive_count, step_size):
        for bad in ("inf", "-inf", "nan"):
            with pytest.raises(argparse.ArgumentTypeError):
                parse(bad)


def test_run_dir_must_be_an_existing_directory(tmp_path):
    assert run_dir(str(tmp_path)) == tmp_path
    (tmp_path / "f").write_text("")
    for bad, message in ((tmp_path / "f", "not a directory"), (tmp_path / "no", "no such directory")):
        with pytest.raises(argparse.ArgumentTypeError, match=message):
            run_dir(str(bad))
