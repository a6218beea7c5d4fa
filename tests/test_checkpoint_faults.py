"""Checkpoints under faults and bad input: damaged or inconsistent files are refused with one
line naming the file and the field; a save is one unit under a crash or a failed write at any
point; divergence keeps the last good checkpoint; every JSON file is strict; one writer per run."""
import builtins
import errno
import io
import json
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minivae.training import checkpoint
from minivae.cli import commands as cli
from minivae.model import VAE
from minivae.optim import SGD, Adagrad, Adam
from minivae.training.trainer import Trainer

from test_checkpoint import D, X_TEST, X_TRAIN


def make_trainer(optimizer=None, callbacks=(), **kwargs):
    optimizer = Adagrad(lr=0.1) if optimizer is None else optimizer
    return Trainer(VAE(D, [6, 5], 2, seed=0, **kwargs), X_TRAIN, X_TEST, optimizer=optimizer,
                   batch_size=16, seed=4, callbacks=callbacks)


def saved_run(directory, samples=40, **kwargs):
    trainer = make_trainer(**kwargs)
    trainer.run(samples, eval_every=16)   # mid-epoch: perm and pos matter
    checkpoint.save(directory, trainer.model, trainer, extra={"dataset": "synthetic"})
    return trainer


def strict_json(text):
    """Parse ``text`` refusing NaN and infinities, as most JSON readers do."""
    def refuse(token):
        raise ValueError(f"not strict JSON: {token}")
    return json.loads(text, parse_constant=refuse)


# -- tampering, for the current one-file format and the older two-file one ----------------------

def read_all(directory):
    with np.load(directory / "checkpoint.npz") as npz:
        arrays = dict(npz)
    if "meta" in arrays:
        meta = json.loads(arrays.pop("meta").tobytes())
    else:
        meta = json.loads((directory / "checkpoint.json").read_text())
    return arrays, meta


def write_all(directory, arrays, meta, meta_text=None):
    text = json.dumps(meta) if meta_text is None else meta_text
    if (directory / "checkpoint.json").exists():   # the older format
        (directory / "checkpoint.json").write_text(text)
    else:
        arrays = {**arrays, "meta": np.frombuffer(text.encode(), np.uint8)}
    with open(directory / "checkpoint.npz", "wb") as f:
        np.savez(f, **arrays)


def tamper(directory, arrays=None, drop=(), meta=None, meta_text=None):
    """Replace or add ``arrays``, drop the arrays ``drop``, change the metadata with ``meta(d)``."""
    found, data = read_all(directory)
    found.update(arrays or {})
    for key in drop:
        del found[key]
    if meta is not None:
        meta(data)
    write_all(directory, found, data, meta_text)


def assert_refused(directory, field, call=None):
    """Loading (or ``call``) raises a CheckpointError: one line naming the file and ``field``."""
    call = call or (lambda: checkpoint.restore_trainer(directory, X_TRAIN, X_TEST))
    with pytest.raises(ValueError) as info:
        call()
    message = str(info.value)
    assert type(info.value).__name__ == "CheckpointError", message
    assert "\n" not in message and "checkpoint.npz" in message and field in message, message


# ----------------------------------------------------------------------------------------------
# Validated on load
# ----------------------------------------------------------------------------------------------

def setitem(path, value):
    def change(meta):
        *keys, last = path
        d = meta
        for k in keys:
            d = d[k]
        d[last] = value
    return change


def perm_with(fn):
    def make(directory):
        perm = read_all(directory)[0]["perm"].copy()
        return {"perm": fn(perm)}
    return make


ARRAY_FAULTS = {
    # the segfault of --resume on the Numba backend: a minibatch index beyond the data
    "perm out of range": (perm_with(lambda p: np.where(p == 0, 10_000, p)), "perm"),
    "perm repeats a row": (perm_with(lambda p: np.concatenate([p[:1], p[:-1]])), "perm"),
    "perm of floats": (perm_with(lambda p: p.astype(float)), "perm"),
    "perm 2-D": (perm_with(lambda p: p.reshape(2, -1)), "perm"),
    "perm of another length": (perm_with(lambda p: p[:-1]), "perm"),
    # the other segfault: an Adagrad accumulator of the wrong shape
    "slot of the wrong shape": (lambda d: {"opt/enc.W1/sum_sq": np.ones(3)}, "opt/enc.W1/sum_sq"),
    "slot of ints": (lambda d: {"opt/enc.W1/sum_sq": np.ones((D, 6), int)}, "opt/enc.W1/sum_sq"),
    "slot with NaN": (lambda d: {"opt/dec.b1/sum_sq": np.full(5, np.nan)}, "opt/dec.b1/sum_sq"),
    "slot of another optimizer": (lambda d: {"opt/enc.W1/m": np.zeros((D, 6))}, "opt/enc.W1/m"),
    # a scalar was broadcast into the weight matrix
    "scalar parameter": (lambda d: {"param/enc.W1": np.float64(0.5)}, "param/enc.W1"),
    "transposed parameter": (lambda d: {"param/enc.W1": np.zeros((6, D))}, "param/enc.W1"),
    "NaN parameter": (lambda d: {"param/dec.b1": np.full(5, np.nan)}, "param/dec.b1"),
    "inf parameter": (lambda d: {"param/dec.b1": np.full(5, np.inf)}, "param/dec.b1"),
    "int parameter": (lambda d: {"param/dec.b1": np.zeros(5, int)}, "param/dec.b1"),
    "complex parameter": (lambda d: {"param/dec.b1": np.zeros(5, complex)}, "param/dec.b1"),
    "float32 parameter in a float64 model": (lambda d: {"param/dec.b1": np.zeros(5, np.float32)},
                                             "param/dec.b1"),
    "unknown array": (lambda d: {"surprise": np.zeros(3)}, "surprise"),
}


@pytest.mark.parametrize("fault", ARRAY_FAULTS)
def test_bad_arrays_are_refused(tmp_path, fault):
    saved_run(tmp_path)
    make, field = ARRAY_FAULTS[fault]
    tamper(tmp_path, arrays=make(tmp_path))
    assert_refused(tmp_path, field)


@pytest.mark.parametrize("key", ["param/enc.W1", "perm", "opt/dec.W1/sum_sq"])
def test_missing_arrays_are_refused(tmp_path, key):
    saved_run(tmp_path)
    tamper(tmp_path, drop=[key])
    assert_refused(tmp_path, key)


def test_adam_step_count_is_checked(tmp_path):
    saved_run(tmp_path, optimizer=Adam(lr=0.01))
    tamper(tmp_path, arrays={"opt/enc.b1/t": np.zeros(3, np.int64)})
    assert_refused(tmp_path, "opt/enc.b1/t")


META_FAULTS = {
    "pos beyond perm": (setitem(["trainer", "pos"], 10**6), "pos"),
    "negative samples": (setitem(["trainer", "samples"], -5), "trainer.samples"),
    "samples as text": (setitem(["trainer", "samples"], "40"), "trainer.samples"),
    "samples as bool": (setitem(["trainer", "samples"], True), "trainer.samples"),
    "no history": (lambda m: m["trainer"].pop("history"), "trainer.history"),
    "bad record": (setitem(["trainer", "history", 0], {"samples": 0}), "trainer.history[0]"),
    "bound as text": (setitem(["trainer", "history", 1, "train_bound"], "-5"), "train_bound"),
    "no model": (lambda m: m.pop("model"), "model"),
    "model of another size": (setitem(["model", "n_latent"], 3), "param/enc.W_mu"),
    "bad model": (setitem(["model", "n_latent"], "two"), "model"),
    "unknown optimizer": (setitem(["optimizer", "name"], "rmsprop"), "optimizer"),
    "bad step size": (setitem(["optimizer", "lr"], -1.0), "optimizer"),
    "optimizer without trainer": (setitem(["trainer"], None), "optimizer"),
    "generator state": (setitem(["trainer", "rng_state", "state"], {"state": "x"}), "rng_state"),
    "other generator": (setitem(["trainer", "rng_state", "bit_generator"], "MT19937"), "rng_state"),
    "n_train missing": (lambda m: m["trainer"]["config"].pop("n_train"), "n_train"),
    "has_opt_state false": (setitem(["trainer", "has_opt_state"], False), "opt/"),
    "wall time as text": (setitem(["trainer", "wall_time"], "1 s"), "wall_time"),
    "format": (setitem(["format"], "minivae-checkpoint-0"), "format"),
}


@pytest.mark.parametrize("fault", META_FAULTS)
def test_bad_metadata_is_refused(tmp_path, fault):
    saved_run(tmp_path)
    change, field = META_FAULTS[fault]
    tamper(tmp_path, meta=change)
    assert_refused(tmp_path, field)


@pytest.mark.parametrize("text", ["", "{", "not json", "[1, 2]", '{"format": NaN}'])
def test_metadata_that_is_not_json_is_refused(tmp_path, text):
    saved_run(tmp_path)
    tamper(tmp_path, meta_text=text)
    assert_refused(tmp_path, "", call=lambda: checkpoint.load(tmp_path))


def test_nan_in_the_history_is_refused(tmp_path):
    saved_run(tmp_path)
    found, meta = read_all(tmp_path)
    meta["trainer"]["history"][-1]["train_bound"] = float("nan")
    write_all(tmp_path, found, meta, json.dumps(meta))   # json.dumps writes the NaN token
    assert_refused(tmp_path, "", call=lambda: checkpoint.load(tmp_path))


@pytest.mark.parametrize("damage", ["truncated", "empty", "text"])
def test_damaged_file_is_one_line(tmp_path, damage):
    saved_run(tmp_path)
    path = tmp_path / "checkpoint.npz"
    content = path.read_bytes()
    path.write_bytes({"truncated": content[:len(content) // 2], "empty": b"",
                      "text": b"this is not a zip archive"}[damage])
    assert_refused(tmp_path, "npz", call=lambda: checkpoint.load(tmp_path))


def test_a_valid_checkpoint_still_resumes_exactly(tmp_path):
    """The checks refuse nothing that save writes, for each optimizer and dtype."""
    for optimizer in (Adagrad(lr=0.1), Adam(lr=0.01), SGD(lr=0.05)):
        for dtype in ("float64", "float32"):
            trainer = saved_run(tmp_path, optimizer=optimizer, dtype=dtype)
            resumed = checkpoint.restore_trainer(tmp_path, X_TRAIN, X_TEST)
            assert resumed.samples == trainer.samples and resumed.pos == trainer.pos


def test_older_two_file_format_still_loads(tmp_path):
    trainer = saved_run(tmp_path)
    arrays, meta = read_all(tmp_path)
    meta["format"] = "minivae-checkpoint-1"
    (tmp_path / "checkpoint.json").write_text(json.dumps(meta))
    write_all(tmp_path, arrays, meta)
    resumed = checkpoint.restore_trainer(tmp_path, X_TRAIN, X_TEST)
    assert resumed.samples == trainer.samples
    tamper(tmp_path, arrays={"perm": np.zeros(60, np.int64)})   # checked the same way
    assert_refused(tmp_path, "perm")
    checkpoint.save(tmp_path, trainer.model, trainer)            # saving writes one file
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]
    assert checkpoint.load(tmp_path).trainer["samples"] == trainer.samples


def test_save_refuses_what_load_would_refuse(tmp_path):
    trainer = saved_run(tmp_path)
    before = (tmp_path / "checkpoint.npz").read_bytes()
    trainer.model.params["dec.b1"][0] = np.nan
    with pytest.raises(checkpoint.CheckpointError, match="param/dec.b1 holds NaN or inf"):
        checkpoint.save(tmp_path, trainer.model, trainer)
    assert (tmp_path / "checkpoint.npz").read_bytes() == before


# ----------------------------------------------------------------------------------------------
# Written as one unit
# ----------------------------------------------------------------------------------------------

class WritePoints:
    """Every point where a save touches the disk (a file write, an fsync, a rename): calls
    ``before()`` at each one, and raises ``OSError(error)`` at the ``fail_at``-th (from 1)."""

    def __init__(self, monkeypatch, fail_at=None, before=None, error=errno.ENOSPC):
        self.count, self.fail_at, self.before, self.error = 0, fail_at, before, error
        self.busy = False
        real_open, real_replace, real_fsync = builtins.open, os.replace, os.fsync
        points = self

        class File:
            def __init__(self, f):
                self.f = f

            def write(self, data):
                points.point()
                return self.f.write(data)

            def __getattr__(self, name):
                return getattr(self.f, name)

            def __enter__(self):
                return self

            def __exit__(self, *exc):
                self.f.close()

        def fake_open(file, mode="r", *args, **kwargs):
            f = real_open(file, mode, *args, **kwargs)
            return File(f) if any(c in mode for c in "wax+") else f

        def fake(real):
            def call(*args, **kwargs):
                points.point()
                return real(*args, **kwargs)
            return call

        monkeypatch.setattr(builtins, "open", fake_open)
        monkeypatch.setattr(io, "open", fake_open)
        monkeypatch.setattr(os, "replace", fake(real_replace))
        monkeypatch.setattr(os, "rename", fake(os.rename))
        monkeypatch.setattr(os, "fsync", fake(real_fsync))

    def point(self):
        if self.busy:   # a write of before() itself
            return
        self.count += 1
        if self.before is not None:
            self.busy = True
            try:
                self.before()
            finally:
                self.busy = False
        if self.count == self.fail_at:
            raise OSError(self.error, os.strerror(self.error))


def state(directory):
    """Everything a resume depends on but the wall time, comparable with ``==``."""
    ckpt = checkpoint.load(directory)
    t = ckpt.trainer
    return (sorted((k, p.tobytes()) for k, p in ckpt.model.params.items()),
            sorted((k, s, a.tobytes()) for k, slots in ckpt.opt_state.items() for s, a in slots.items()),
            t["samples"], t["pos"], t["perm"].tobytes(), json.dumps(t["rng_state"]),
            [(r["samples"], r["train_bound"], r["test_bound"]) for r in t["history"]])


def two_states(directory):
    """A checkpoint of state A in ``directory`` and the trainer that is at state B."""
    trainer = saved_run(directory, samples=32)
    old = state(directory)
    trainer.run(80, eval_every=16)
    return trainer, old


def count_points(tmp_path, monkeypatch, save):
    """The number of write points of ``save`` from state A to state B, and state B."""
    scratch = tmp_path / "count"
    trainer, _ = two_states(scratch)
    with monkeypatch.context() as m:
        points = WritePoints(m)
        save(scratch, trainer)
    assert points.count >= 4   # at least a write, two fsyncs and a rename
    return points.count, state(scratch)


def save_checkpoint(directory, trainer):
    checkpoint.save(directory, trainer.model, trainer, extra={"dataset": "synthetic"})


def test_a_crash_at_any_point_leaves_the_old_or_the_new_checkpoint(tmp_path, monkeypatch):
    """Copy the directory as it stands at every write point of a save (what a kill -9 there
    leaves) and load each copy: each is the old state or the new one, whole."""
    directory = tmp_path / "run"
    trainer, old = two_states(directory)
    snapshots = []

    def snapshot():
        copy = tmp_path / f"crash{len(snapshots)}"
        shutil.copytree(directory, copy)
        snapshots.append(copy)

    with monkeypatch.context() as m:
        WritePoints(m, before=snapshot)
        save_checkpoint(directory, trainer)
    new = state(directory)
    assert new != old and len(snapshots) >= 4
    seen = [state(copy) for copy in snapshots]
    assert all(s in (old, new) for s in seen)
    assert seen[0] == old


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EIO, errno.EACCES])
def test_a_failed_write_at_any_point_keeps_the_old_checkpoint(tmp_path, monkeypatch, error):
    n, new = count_points(tmp_path, monkeypatch, save_checkpoint)
    trainer, old = two_states(tmp_path / "old")
    for k in range(1, n + 1):
        directory = shutil.copytree(tmp_path / "old", tmp_path / f"fail{k}")
        with monkeypatch.context() as m:
            WritePoints(m, fail_at=k, error=error)
            with pytest.raises(OSError) as info:
                save_checkpoint(directory, trainer)
        assert f"cannot write {directory / 'checkpoint.npz'}: {os.strerror(error)}" in str(info.value)
        assert info.value.errno == error and "\n" not in str(info.value)
        assert not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
        # the last point is the directory's fsync, after the rename: the new file is in place
        assert state(directory) == (old if k < n else new)


def test_history_json_is_replaced_whole(tmp_path, monkeypatch):
    """The CLI's writer: checkpoint and history.json, each whole, at every failure point."""
    from minivae.training import atomicfile

    def write(directory, trainer):
        cli._Writer(directory, {"dataset": "synthetic"}).on_eval(trainer, trainer.history[-1])

    n, _ = count_points(tmp_path, monkeypatch, write)
    trainer, old = two_states(tmp_path / "old")
    atomicfile.write_json(tmp_path / "old" / "history.json", ["the old history"])
    before = (tmp_path / "old" / "history.json").read_text()
    for k in range(1, n + 1):
        directory = shutil.copytree(tmp_path / "old", tmp_path / f"fail{k}")
        with monkeypatch.context() as m:
            WritePoints(m, fail_at=k)
            with pytest.raises(OSError, match="cannot write"):
                write(directory, trainer)
        assert not [p.name for p in directory.iterdir() if p.name.endswith(".tmp")]
        text = (directory / "history.json").read_text()
        assert text == before or strict_json(text) == trainer.history_dicts()


def test_disk_full_names_the_file_and_keeps_the_old_checkpoint(tmp_path, monkeypatch):
    trainer, old = two_states(tmp_path)
    real_fsync = os.fsync

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match=r"cannot write .*checkpoint\.npz: No space left on device"):
        save_checkpoint(tmp_path, trainer)
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert state(tmp_path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="needs POSIX permissions that bind (root may write anywhere)")
def test_read_only_directory_names_the_file(tmp_path):
    trainer, old = two_states(tmp_path)
    tmp_path.chmod(0o555)
    try:
        with pytest.raises(OSError, match=r"cannot write .*checkpoint\.npz"):
            save_checkpoint(tmp_path, trainer)
    finally:
        tmp_path.chmod(0o755)
    assert state(tmp_path) == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.npz"]


# ----------------------------------------------------------------------------------------------
# Divergence keeps the last good checkpoint; strict JSON
# ----------------------------------------------------------------------------------------------

def test_a_non_finite_evaluation_stops_before_anything_is_written(tmp_path, monkeypatch):
    """The issue's case: the evaluation at 100 samples gave NaN, which was then saved."""
    from minivae.training import trainer as training
    writer = cli._Writer(tmp_path, {"dataset": "synthetic"})
    trainer = make_trainer(callbacks=[writer])
    real = training.mean_bound
    monkeypatch.setattr(training, "mean_bound",
                        lambda model, X, **kw: np.nan if trainer.samples >= 48 else real(model, X, **kw))
    with pytest.raises(FloatingPointError) as info:
        trainer.run(200, eval_every=16)
    exc = info.value
    assert isinstance(exc, training.Diverged)
    assert exc.samples == 48 and exc.what == ["train bound", "test bound"] and exc.last_good == 32
    assert "after 48 samples" in str(exc) and "at 32 samples" in str(exc)
    assert "minivae train --resume DIR --lr 0.01" in str(exc)
    assert [r.samples for r in trainer.history] == [0, 16, 32]
    assert checkpoint.load(tmp_path).trainer["samples"] == 32
    assert [r["samples"] for r in strict_json((tmp_path / "history.json").read_text())] == [0, 16, 32]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_huge_step_size_keeps_the_last_good_checkpoint(tmp_path):
    """Real divergence (Adagrad, lr=1e3, as in the issue): whichever check fires, the files on
    disk hold finite numbers, strict JSON, and the last good evaluation."""
    writer = cli._Writer(tmp_path, {"dataset": "synthetic"})
    trainer = make_trainer(optimizer=Adagrad(lr=1e3), callbacks=[writer])
    with np.errstate(all="ignore"), pytest.raises(FloatingPointError, match="non-finite"):
        trainer.run(2000, eval_every=16)
    ckpt = checkpoint.load(tmp_path)   # load checks every parameter is finite
    history = strict_json((tmp_path / "history.json").read_text())
    assert ckpt.trainer["samples"] == history[-1]["samples"] == trainer.history[-1].samples
    meta = strict_json(np.load(tmp_path / "checkpoint.npz")["meta"].tobytes())
    assert meta["trainer"]["history"] == history


def test_json_writes_are_strict(tmp_path):
    from minivae.training import atomicfile
    with pytest.raises(ValueError, match=r"out\.json holds a non-finite number"):
        atomicfile.write_json(tmp_path / "out.json", {"bound": float("nan")})
    assert not list(tmp_path.iterdir())
    atomicfile.write_json(tmp_path / "out.json", {"bound": -1.5})
    assert strict_json((tmp_path / "out.json").read_text()) == {"bound": -1.5}


def test_two_writers_of_one_file_each_write_their_own_temporary_file(tmp_path):
    """Two ``reproduce fig2`` commands sharing OUT write the same CSV, JSON and PNG. A second
    write that starts while the first is under way must not touch the first one's bytes: the
    file ends as the last renamed, whole, and neither write fails."""
    from minivae.training import atomicfile
    target = tmp_path / "fig2_mnist.csv"

    def first(f):
        f.write(b"first ")
        atomicfile.replace(target, lambda g: g.write(b"second, meanwhile"))
        f.write(b"writer")

    atomicfile.replace(target, first)
    assert target.read_bytes() == b"first writer"
    assert [p.name for p in tmp_path.iterdir()] == ["fig2_mnist.csv"]


def test_tables_and_figures_are_written_whole_or_not_at_all(tmp_path):
    import csv

    import matplotlib.pyplot as plt

    from minivae.training import atomicfile
    table = tmp_path / "t.csv"
    atomicfile.write_csv(table, [("n", "bound"), (1, -1.5), (2, "x,y")])
    with open(table, newline="") as f:
        assert list(csv.reader(f)) == [["n", "bound"], ["1", "-1.5"], ["2", "x,y"]]
    figure = tmp_path / "f.png"
    fig = plt.figure()
    atomicfile.write_figure(fig, figure, dpi=20)
    old = figure.read_bytes()
    assert old.startswith(b"\x89PNG\r\n\x1a\n")
    for name in ("f.nosuchformat", "f"):   # a format matplotlib does not know: no file, no .tmp left
        with pytest.raises(ValueError, match=f"{name}'.*end it in one of .*\\.png"):
            atomicfile.write_figure(fig, tmp_path / name)
    plt.close(fig)
    assert figure.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.png", "t.csv"]


# ----------------------------------------------------------------------------------------------
# One writer per run directory
# ----------------------------------------------------------------------------------------------

def test_a_second_lock_on_a_run_directory_is_refused(tmp_path):
    from minivae.training.runlock import RunLocked, lock_run
    with lock_run(tmp_path / "run"):
        with pytest.raises(RunLocked) as info:
            with lock_run(tmp_path / "run"):
                pass
        message = str(info.value)
        assert str(tmp_path / "run") in message and f"process {os.getpid()}" in message
        assert "\n" not in message
    with lock_run(tmp_path / "run"):   # released at the end of the block
        pass


def test_a_second_train_on_the_same_directory_refuses(tmp_path, capsys):
    """Another process holds the run; `minivae train` on the same directory refuses before it
    trains or writes anything."""
    from minivae.training.runlock import RunLocked
    out = tmp_path / "run"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import sys, time
            from minivae.training.runlock import lock_run
            with lock_run({str(out)!r}):
                print("locked", flush=True)
                sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        try:
            code = cli.main(["train", "--dataset", "frey", "--n-hidden", "4", "--n-latent", "2",
                             "--samples", "200", "--quiet", "--out", str(out)])
        except RunLocked as exc:
            message = str(exc)
        else:   # a command line that prints its errors
            assert code != 0
            message = capsys.readouterr().err
        assert f"{out} is in use by process {holder.pid}" in message
        assert sorted(p.name for p in out.iterdir()) == ["run.lock"]
    finally:
        holder.communicate("")
    assert holder.returncode == 0
