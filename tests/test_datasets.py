"""Tests for minivae.datasets: shipped MNIST / Frey Face, checksums, the Frey split, binarization.

Facts checked: label counts, first labels, mean pixel values, Frey value range and mean, as
the datasets' published descriptions give them (docs/datasets.md cites the sources).
"""
import gzip
import hashlib
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import scipy.io
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import minivae.datasets as ds
from minivae.datasets import (BINARIZATIONS, FIXED_BINARIZATION_SEED, FREY_N_TEST, FREY_SPLIT_SEED,
                              DatasetError, binarize, binarize_fixed, check_binarization, load_frey,
                              load_mnist)
from minivae.datasets import files, mnist
from minivae.datasets.frey import frey_split_indices

DATA_DIR = Path(files.__file__).resolve().parent.parent / "data"
TEST_LABELS = "mnist/t10k-labels-idx1-ubyte.gz"
TEST_IMAGES = "mnist/t10k-images-idx3-ubyte.gz"
FREY = "frey/frey_rawface.mat"

MNIST_FACTS = {
    "train": dict(n=60000, mean=33.318,
                  counts=[5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949],
                  first=[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]),
    "test": dict(n=10000, mean=33.791,
                 counts=[980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009],
                 first=[7, 2, 1, 0, 4, 1, 4, 9, 5, 9]),
}


# ---------------------------------------------------------------- helpers

@pytest.fixture(scope="module")
def mnist_data():
    return {split: load_mnist(split) for split in ("train", "test")}


@pytest.fixture(autouse=True)
def _no_env_override(monkeypatch):
    monkeypatch.delenv(files.DATA_DIR_ENV, raising=False)


def make_data_dir(tmp_path, *relpaths, sums=True):
    """Copy the layout of the shipped data dir (SHA256SUMS + the given files) into tmp_path."""
    root = tmp_path / "data"
    root.mkdir()
    if sums:
        shutil.copy(DATA_DIR / files.SUMS_FILE, root / files.SUMS_FILE)
    for rel in relpaths:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DATA_DIR / rel, root / rel)
    return root


def flip_byte(path, offset):
    raw = bytearray(path.read_bytes())
    raw[offset] ^= 0xFF
    path.write_bytes(bytes(raw))


def truncate_half(path):
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])


def accept_current_digest(root, rel):
    """Rewrite SHA256SUMS so that the (damaged) file passes the checksum and reaches the parser."""
    sums = files.read_sums_file(root / files.SUMS_FILE)
    sums[rel] = hashlib.sha256((root / rel).read_bytes()).hexdigest()
    (root / files.SUMS_FILE).write_text("".join(f"{d}  {p}\n" for p, d in sums.items()))


def idx_gz(magic, dims, payload):
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in dims)
    return gzip.compress(header + payload)


# ---------------------------------------------------------------- MNIST

@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_shapes_dtypes_range(mnist_data, split):
    X, y = mnist_data[split]
    n = MNIST_FACTS[split]["n"]
    assert X.shape == (n, 784) and X.dtype == np.float64
    assert y.shape == (n,) and y.dtype == np.int64
    assert X.min() == 0.0 and X.max() == 1.0
    # grey values are exactly pixel / 255
    np.testing.assert_allclose(X * 255, np.round(X * 255), atol=1e-9)


@pytest.mark.parametrize("split", ["train", "test"])
def test_mnist_facts_from_readme(mnist_data, split):
    X, y = mnist_data[split]
    facts = MNIST_FACTS[split]
    assert np.bincount(y, minlength=10).tolist() == facts["counts"]
    assert y[:10].tolist() == facts["first"]
    assert X.mean() * 255 == pytest.approx(facts["mean"], abs=5e-4)


def test_mnist_rows_are_raw_idx_bytes(mnist_data):
    # Cross-check against the format description: image data starts at byte 16, row-major.
    raw = gzip.decompress((DATA_DIR / TEST_IMAGES).read_bytes())
    first = np.frombuffer(raw, np.uint8, count=3 * 784, offset=16).reshape(3, 784)
    np.testing.assert_array_equal(mnist_data["test"][0][:3] * 255, first)


def test_mnist_returns_fresh_arrays():
    X, y = load_mnist("test")
    X[:] = -1.0
    y[:] = -1
    X2, y2 = load_mnist("test")
    assert X2.min() == 0.0 and y2.min() == 0


@pytest.mark.parametrize("split", ["validation", "Train", "", None, 0])
def test_mnist_bad_split(split):
    with pytest.raises(ValueError, match="'train', 'test'"):
        load_mnist(split)


# ---------------------------------------------------------------- Frey Face

def test_frey_shape_dtype_and_values():
    X = load_frey()
    assert X.shape == (1965, 560) and X.dtype == np.float64
    assert X.min() == 8 / 256 and X.max() == 238 / 256
    assert 0.0 < X.min() and X.max() < 1.0
    assert X.mean() * 256 == pytest.approx(154.461, abs=5e-4)


def test_frey_rows_are_columns_of_ff():
    ff = scipy.io.loadmat(DATA_DIR / FREY)["ff"]
    X = load_frey()
    for i in (0, 1000, 1964):
        np.testing.assert_array_equal(X[i].reshape(28, 20), ff[:, i].reshape(28, 20) / 256)


def test_frey_split_sizes_disjoint_union():
    train_idx, test_idx = frey_split_indices(1965)
    assert len(train_idx) == 1765 and len(test_idx) == FREY_N_TEST == 200
    assert np.intersect1d(train_idx, test_idx).size == 0
    np.testing.assert_array_equal(np.union1d(train_idx, test_idx), np.arange(1965))
    assert np.all(np.diff(train_idx) > 0) and np.all(np.diff(test_idx) > 0)


def test_frey_split_is_documented_permutation_and_pinned():
    perm = np.random.default_rng(FREY_SPLIT_SEED).permutation(1965)
    train_idx, test_idx = frey_split_indices(1965)
    np.testing.assert_array_equal(test_idx, np.sort(perm[:FREY_N_TEST]))
    # Pinned: fails if NumPy ever changes the PCG64 permutation stream, which would
    # silently change the split (and every Frey test-set number).
    assert FREY_SPLIT_SEED == 0
    assert test_idx[:10].tolist() == [12, 20, 41, 68, 70, 72, 77, 91, 98, 131]


def test_frey_load_splits_match_indices_and_are_deterministic():
    X = load_frey("all")
    train_idx, test_idx = frey_split_indices(1965)
    X_train, X_test = load_frey("train"), load_frey("test")
    assert X_train.shape == (1765, 560) and X_test.shape == (200, 560)
    np.testing.assert_array_equal(X_train, X[train_idx])
    np.testing.assert_array_equal(X_test, X[test_idx])
    np.testing.assert_array_equal(load_frey("test"), X_test)


def test_frey_returns_fresh_arrays():
    X = load_frey()
    X[:] = 5.0
    assert load_frey().max() < 1.0


@pytest.mark.parametrize("split", ["validation", "ALL", None])
def test_frey_bad_split(split):
    with pytest.raises(ValueError, match="'all', 'train', 'test'"):
        load_frey(split)


# ---------------------------------------------------------------- checksums and damaged files

def load_file(rel, root):
    if rel == FREY:
        return load_frey(data_dir=root)
    return load_mnist("test", data_dir=root)


@pytest.mark.parametrize("rel", [TEST_LABELS, TEST_IMAGES, FREY])
def test_corrupted_file_fails_checksum(tmp_path, rel):
    root = make_data_dir(tmp_path, TEST_LABELS, TEST_IMAGES, FREY)
    bad = root / rel
    flip_byte(bad, bad.stat().st_size // 2)
    actual = hashlib.sha256(bad.read_bytes()).hexdigest()
    with pytest.raises(DatasetError) as info:
        load_file(rel, root)
    msg = str(info.value)
    assert str(bad.resolve()) in msg
    assert files.EXPECTED_SHA256[rel] in msg and actual in msg
    assert "corrupted or truncated" in msg and "reinstall minivae" in msg
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("rel", [TEST_LABELS, FREY])
def test_truncated_file_fails_checksum(tmp_path, rel):
    root = make_data_dir(tmp_path, TEST_LABELS, TEST_IMAGES, FREY)
    truncate_half(root / rel)
    with pytest.raises(DatasetError, match=Path(rel).name):
        load_file(rel, root)


def test_missing_file(tmp_path):
    root = make_data_dir(tmp_path, TEST_LABELS)        # no image file
    with pytest.raises(DatasetError, match=Path(TEST_IMAGES).name):
        load_mnist("test", data_dir=root)
    with pytest.raises(DatasetError, match="frey_rawface.mat"):
        load_frey(data_dir=root)


def test_directory_in_place_of_file(tmp_path):
    root = make_data_dir(tmp_path)
    (root / FREY).mkdir(parents=True)
    with pytest.raises(DatasetError, match="frey_rawface.mat"):
        load_frey(data_dir=root)


def test_missing_data_dir(tmp_path):
    with pytest.raises(DatasetError, match="nowhere"):
        load_frey(data_dir=tmp_path / "nowhere")


def test_env_var_overrides_default_data_dir(tmp_path, monkeypatch):
    root = make_data_dir(tmp_path, FREY)
    flip_byte(root / FREY, 5000)
    monkeypatch.setenv(files.DATA_DIR_ENV, str(root))
    assert files.default_data_dir() == root
    with pytest.raises(DatasetError, match=str(root)):
        load_frey()


def test_builtin_digests_used_without_sums_file(tmp_path):
    root = make_data_dir(tmp_path, TEST_LABELS, TEST_IMAGES, sums=False)
    X, y = load_mnist("test", data_dir=root)
    assert y[:3].tolist() == [7, 2, 1]
    flip_byte(root / TEST_LABELS, 100)
    with pytest.raises(DatasetError, match=files.EXPECTED_SHA256[TEST_LABELS]):
        load_mnist("test", data_dir=root)


def test_builtin_digests_match_shipped_sums_file():
    assert files.read_sums_file(DATA_DIR / files.SUMS_FILE) == files.EXPECTED_SHA256


def test_malformed_sums_file(tmp_path):
    root = make_data_dir(tmp_path, FREY)
    (root / files.SUMS_FILE).write_text("not-a-digest  frey/frey_rawface.mat\n")
    with pytest.raises(DatasetError, match="SHA256SUMS:1"):
        load_frey(data_dir=root)


def test_checksum_computed_once_per_file_state(tmp_path, monkeypatch):
    root = make_data_dir(tmp_path, FREY)
    calls = []
    real = files.sha256_of
    monkeypatch.setattr(files, "sha256_of", lambda p: calls.append(p) or real(p))
    load_frey(data_dir=root)
    load_frey("train", data_dir=root)
    assert len(calls) == 1
    # Damaging the file after a successful load must not be hidden by either cache.
    flip_byte(root / FREY, 5000)
    st_ = (root / FREY).stat()
    os.utime(root / FREY, ns=(st_.st_atime_ns, st_.st_mtime_ns + 10**9))
    with pytest.raises(DatasetError, match="SHA-256 mismatch"):
        load_frey(data_dir=root)
    assert len(calls) == 2


# ------------------------------------------------------------ parse errors behind a good checksum

def test_truncated_gzip_reaches_parser_as_dataset_error(tmp_path):
    root = make_data_dir(tmp_path, TEST_LABELS, TEST_IMAGES)
    truncate_half(root / TEST_LABELS)
    accept_current_digest(root, TEST_LABELS)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz.*decompress"):
        load_mnist("test", data_dir=root)


def test_not_gzip_reaches_parser_as_dataset_error(tmp_path):
    root = make_data_dir(tmp_path, TEST_LABELS, TEST_IMAGES)
    (root / TEST_LABELS).write_bytes(b"this is not gzip data" * 10)
    accept_current_digest(root, TEST_LABELS)
    with pytest.raises(DatasetError, match="t10k-labels-idx1-ubyte.gz"):
        load_mnist("test", data_dir=root)


@pytest.mark.parametrize("magic, dims, payload, match", [
    (0x00000803, (10000,), bytes(10000), "magic"),       # image magic in a label file
    (0x00000801, (10000,), bytes(9999), "9999 bytes"),   # one label short
    (0x00000801, (10000,), bytes(10001), "10001 bytes"),  # one byte too many
], ids=["wrong-magic", "short-payload", "long-payload"])
def test_bad_idx_content(tmp_path, magic, dims, payload, match):
    root = make_data_dir(tmp_path, TEST_LABELS, TEST_IMAGES)
    (root / TEST_LABELS).write_bytes(idx_gz(magic, dims, payload))
    accept_current_digest(root, TEST_LABELS)
    with pytest.raises(DatasetError, match=match) as info:
        load_mnist("test", data_dir=root)
    assert "t10k-labels-idx1-ubyte.gz" in str(info.value)


def test_label_count_must_match_image_count(tmp_path):
    root = make_data_dir(tmp_path, TEST_LABELS, TEST_IMAGES)
    (root / TEST_LABELS).write_bytes(idx_gz(0x00000801, (5,), bytes(5)))
    accept_current_digest(root, TEST_LABELS)
    with pytest.raises(DatasetError, match="do not match"):
        load_mnist("test", data_dir=root)


def test_parse_idx_roundtrip_and_short_header():
    raw = (0x00000803).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (2, 3, 4))
    arr = mnist.parse_idx(raw + bytes(range(24)), 0x00000803, "x.idx")
    assert arr.shape == (2, 3, 4) and arr.dtype == np.uint8 and arr[1, 2, 3] == 23
    with pytest.raises(DatasetError, match="x.idx.*too short"):
        mnist.parse_idx(raw[:7], 0x00000803, "x.idx")


@pytest.mark.parametrize("fraction", [0.0, 0.001, 0.01, 0.1, 0.5, 0.9, 0.999])
def test_truncated_mat_reaches_parser_as_dataset_error(tmp_path, fraction):
    root = make_data_dir(tmp_path, FREY)
    raw = (root / FREY).read_bytes()
    (root / FREY).write_bytes(raw[: int(len(raw) * fraction)])
    accept_current_digest(root, FREY)
    with pytest.raises(DatasetError, match="frey_rawface.mat"):
        load_frey(data_dir=root)


def test_mat_without_ff_variable(tmp_path):
    root = make_data_dir(tmp_path, FREY)
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"faces": np.zeros((560, 3), np.uint8)})
    (root / FREY).write_bytes(buf.getvalue())
    accept_current_digest(root, FREY)
    with pytest.raises(DatasetError, match="frey_rawface.mat.*'ff'"):
        load_frey(data_dir=root)


# ---------------------------------------------------------------- binarization

def test_binarize_values_and_mean(mnist_data):
    X = mnist_data["test"][0][:2000]
    B = binarize(X, np.random.default_rng(0))
    assert B.shape == X.shape and B.dtype == np.float64
    assert set(np.unique(B).tolist()) <= {0.0, 1.0}
    # E[B] = X, Var[sum B] = sum X (1 - X): allow 5 standard errors.
    se = np.sqrt(np.sum(X * (1 - X))) / X.size
    assert abs(B.mean() - X.mean()) < 5 * se
    # pixels that are exactly 0 or 1 are never flipped
    assert np.all(B[X == 0] == 0) and np.all(B[X == 1] == 1)


class _ZeroUniforms(np.random.Generator):
    """A Generator whose uniforms are all exactly 0.0, the edge case of u < X."""

    def random(self, size=None, dtype=np.float64, out=None):
        return np.zeros(size)


def test_binarize_uses_strict_inequality():
    # u ~ U[0, 1) can be exactly 0; a pixel with X = 0 must still never become 1.
    B = binarize(np.array([[0.0, 1e-300, 1.0]]), _ZeroUniforms(np.random.PCG64(0)))
    assert B.tolist() == [[0.0, 1.0, 1.0]]


@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9])
def test_binarize_constant_probability(p):
    X = np.full((200, 500), p)
    B = binarize(X, np.random.default_rng(1))
    se = np.sqrt(p * (1 - p) / X.size)
    assert abs(B.mean() - p) < 5 * se


def test_dynamic_binarization_resamples():
    X = np.full((50, 784), 0.5)
    rng = np.random.default_rng(2)
    assert not np.array_equal(binarize(X, rng), binarize(X, rng))


def test_binarize_fixed_reproducible():
    X = np.random.default_rng(3).random((100, 784))
    B1, B2 = binarize_fixed(X), binarize_fixed(X)
    np.testing.assert_array_equal(B1, B2)
    np.testing.assert_array_equal(B1, binarize(X, np.random.default_rng(FIXED_BINARIZATION_SEED)))
    assert FIXED_BINARIZATION_SEED == 123
    assert not np.array_equal(B1, binarize_fixed(X, seed=124))


@pytest.mark.parametrize("bad", [-1e-9, 1 + 1e-9, np.nan, np.inf, -np.inf])
def test_binarize_rejects_invalid_probabilities(bad):
    X = np.full((3, 4), 0.5)
    X[1, 2] = bad
    with pytest.raises(ValueError):
        binarize(X, np.random.default_rng(0))
    with pytest.raises(ValueError):
        binarize_fixed(X)


@pytest.mark.parametrize("rng", [0, None, np.random.RandomState(0)])
def test_binarize_requires_generator(rng):
    with pytest.raises(TypeError, match="Generator"):
        binarize(np.full((2, 2), 0.5), rng)


@settings(max_examples=50, deadline=None)
@given(hnp.arrays(np.float64, hnp.array_shapes(max_dims=2, max_side=20),
                  elements=st.floats(0.0, 1.0)),
       st.integers(0, 2**32 - 1))
def test_binarize_property(X, seed):
    B = binarize(X, np.random.default_rng(seed))
    assert B.shape == X.shape and B.dtype == np.float64
    assert np.all((B == 0) | (B == 1))
    assert np.all(B[X == 0] == 0) and np.all(B[X == 1] == 1)


def test_check_binarization():
    assert BINARIZATIONS == ("dynamic", "fixed", "none")
    for mode in BINARIZATIONS:
        assert check_binarization(mode) == mode
    for bad in ("static", "Dynamic", "", None):
        with pytest.raises(ValueError, match="'dynamic', 'fixed', 'none'"):
            check_binarization(bad)


def test_public_api():
    expected = {"load_mnist", "load_frey", "binarize", "binarize_fixed", "check_binarization",
                "BINARIZATIONS", "DatasetError", "FREY_SPLIT_SEED", "FREY_N_TEST",
                "FIXED_BINARIZATION_SEED"}
    assert set(ds.__all__) == expected
    assert all(hasattr(ds, name) for name in expected)
    assert issubclass(DatasetError, ValueError)
