"""Save and load a model, its optimizer state and its training progress, without pickle.

A checkpoint is one file, ``DIR/checkpoint.npz``, holding

* ``param/<name>`` -- every parameter;
* ``opt/<name>/<slot>`` -- the optimizer's state (e.g. Adagrad's ``sum_sq``) once it has taken
  a step;
* ``perm`` -- the current epoch's minibatch order;
* ``extra/<name>`` -- the arrays of the training algorithm's own state
  (:meth:`~minivae.training.trainer.Trainer.extra_arrays`: MCEM's chains) and any a caller adds;
* ``meta`` -- everything else, as UTF-8 strict JSON in a ``uint8`` array: the training
  ``algorithm`` (``"aevb"``, ``"wakesleep"``, ``"mcem"``: a key of
  :data:`minivae.training.trainer.TRAINERS`; ``null`` for a model saved without a trainer), the model's
  constructor arguments (its latent family too; a checkpoint without one is of the Gaussian
  family), the optimizer's name and settings, the trainer's settings (the algorithm's own among
  them, e.g. MCEM's ``n_leapfrog``), samples seen, the position in ``perm``, wall time, the
  random generator's state, the history, and any ``extra`` metadata (e.g. the dataset name).
  Read it by hand with
  ``json.loads(np.load("DIR/checkpoint.npz")["meta"].tobytes())``.

:func:`restore_trainer` rebuilds the trainer of the recorded algorithm, whatever it is, and
continues it bit for bit.

One file is the unit: it is written to a temporary file beside it, fsynced and renamed over the
old one (:func:`minivae.training.atomicfile.replace`), so a crash at any instant leaves the old
checkpoint or the new one, whole, and a failed write (disk full, read-only directory) raises an
:class:`OSError` naming the file and leaves the old checkpoint as it was.

:func:`load` checks everything against the model, optimizer and trainer it describes: each
array's presence, shape, dtype (the model's float dtype for parameters and float slots) and
finiteness, ``perm`` a permutation of the training rows (or empty) and ``pos`` inside it, and
every metadata field's type. Anything else raises :class:`CheckpointError`, one line naming the
file and the field. :func:`save` runs the same checks first, so it never writes a checkpoint
that :func:`load` would refuse (a diverged model, say). Loading uses ``allow_pickle=False``.

Older checkpoints still load. The two-file format (``minivae-checkpoint-1``: the arrays in
``checkpoint.npz``, the metadata in ``checkpoint.json``): saving over it writes one file and
removes ``checkpoint.json``. Checkpoints without ``meta.algorithm`` name it in
``extra.algorithm`` (as the reproductions and MCEM's saver did), or are AEVB runs. MCEM runs
saved before the extra arrays kept the chains beside the checkpoint, in ``mcem_chains.npz`` with
the ``samples`` count they belong to; :func:`load` reads them from there, and saving removes it.
"""
import zipfile
import zlib
from dataclasses import asdict, fields
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..model import VAE
from ..optim import make_optimizer
from . import atomicfile
from .trainer import TRAINERS, Record

__all__ = ["FORMAT", "FILE", "Checkpoint", "CheckpointError", "save", "load", "read_meta",
           "exists", "restore_trainer", "resume", "check_array", "check_opt_state"]

FORMAT = "minivae-checkpoint-2"
FILE = "checkpoint.npz"
_OLD_FORMAT, _OLD_JSON = "minivae-checkpoint-1", "checkpoint.json"
_OLD_EXTRA = "mcem_chains.npz"


class CheckpointError(ValueError):
    """A checkpoint that is damaged or does not match the model, optimizer or trainer it
    describes; the message is one line naming the file and the field."""


class Checkpoint(NamedTuple):
    model: VAE
    optimizer: object | None
    opt_state: dict | None
    trainer: dict | None
    extra: dict
    arrays: dict
    """The ``extra`` arrays (the trainer's and those given to :func:`save`), by name."""
    algorithm: str | None
    """The training algorithm (``None`` for a model saved without a trainer)."""


def _error(path, field, problem):
    return CheckpointError(f"{path}: {field} {problem}")


# -- the metadata ----------------------------------------------------------------------------

def _get(d, key, types, path, prefix=""):
    """``d[key]`` if present and of ``types`` (``bool`` never passes for a number)."""
    name = f"{prefix}{key}"
    if key not in d:
        raise _error(path, name, "is missing")
    value = d[key]
    is_number = float in types or int in types
    if not isinstance(value, types) or (isinstance(value, bool) and is_number and bool not in types):
        wanted = " or ".join("null" if t is type(None) else t.__name__ for t in types)
        raise _error(path, name, f"must be {wanted}, got {type(value).__name__} {value!r:.40}")
    return value


def _count(d, key, path, prefix="", least=0):
    value = _get(d, key, (int,), path, prefix)
    if value < least:
        raise _error(path, f"{prefix}{key}", f"must be at least {least}, got {value}")
    return value


def _seconds(d, key, path, prefix=""):
    value = _get(d, key, (int, float), path, prefix)
    if not (np.isfinite(value) and value >= 0):
        raise _error(path, f"{prefix}{key}", f"must be a non-negative number, got {value}")
    return value


def _check_history(history, path):
    names = [f.name for f in fields(Record)]
    for i, r in enumerate(history):
        prefix = f"trainer.history[{i}]."
        if not isinstance(r, dict) or sorted(r) != sorted(names):
            raise _error(path, prefix[:-1], f"must be an object with the fields {', '.join(names)}")
        _count(r, "samples", path, prefix)
        _get(r, "train_bound", (int, float), path, prefix)
        _get(r, "test_bound", (int, float, type(None)), path, prefix)
        _seconds(r, "wall_time", path, prefix)


def _check_rng_state(state, path):
    try:
        if state.get("bit_generator") != "PCG64":
            raise ValueError(f"bit_generator is {state.get('bit_generator')!r}, not 'PCG64'")
        np.random.PCG64().state = state
    except (TypeError, ValueError, KeyError) as exc:
        raise _error(path, "trainer.rng_state", f"is not a PCG64 state ({exc})") from None


def _check_trainer_meta(t, path):
    p = "trainer."
    _count(_get(t, "config", (dict,), path, p), "n_train", path, p + "config.", least=1)
    _count(t, "samples", path, p)
    _count(t, "pos", path, p)
    _seconds(t, "wall_time", path, p)
    _get(t, "has_opt_state", (bool,), path, p)
    _check_rng_state(_get(t, "rng_state", (dict,), path, p), path)
    _check_history(_get(t, "history", (list,), path, p), path)


def _algorithm(meta, path):
    """The recorded algorithm; for a checkpoint older than ``meta.algorithm``, the one its
    ``extra.algorithm`` names, else ``"aevb"`` (the only one that did not write it)."""
    if "algorithm" in meta:
        name = _get(meta, "algorithm", (str, type(None)), path)
    elif meta["trainer"] is None:
        return None
    else:
        name = _get(meta["extra"], "algorithm", (str,), path, "extra.") \
            if "algorithm" in meta["extra"] else "aevb"
    if (name is None) != (meta["trainer"] is None):
        raise _error(path, "algorithm", "must be given with a trainer and null without one")
    if name is not None and not name:
        raise _error(path, "algorithm", "must name an algorithm, got ''")
    return name


def _check_meta(meta, path, expected=FORMAT):
    if not isinstance(meta, dict):
        raise _error(path, "meta", f"must be a JSON object, got {type(meta).__name__}: not a "
                                   f"{expected} file")
    if meta.get("format") != expected:
        raise _error(path, "format", f"is {meta.get('format')!r}: not a {expected} file")
    _get(meta, "model", (dict,), path)
    _get(meta, "extra", (dict,), path)
    optimizer = _get(meta, "optimizer", (dict, type(None)), path)
    trainer = _get(meta, "trainer", (dict, type(None)), path)
    if (optimizer is None) != (trainer is None):
        raise _error(path, "optimizer", "and trainer must both be given or both be null")
    if optimizer is not None:
        _get(optimizer, "name", (str,), path, "optimizer.")
        _check_trainer_meta(trainer, path)
    meta["algorithm"] = _algorithm(meta, path)
    return meta


def _decode_meta(raw, path):
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise _error(path, "meta", f"must be a 1-D uint8 array, got {raw.dtype} {raw.shape}")
    try:
        return atomicfile.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise _error(path, "meta", f"is not valid JSON ({exc})") from None


def _read_arrays(path, names=None):
    """The arrays of ``path`` (only ``names`` if given), as a dict; a damaged file raises
    :class:`CheckpointError`."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files if names is None or k in names}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as exc:
        raise CheckpointError(f"{path}: not a readable .npz archive "
                              f"({type(exc).__name__}: {exc})") from None


def _meta_of(directory, arrays):
    """The metadata: from the ``meta`` array, or from an old-format ``checkpoint.json``."""
    path = directory / FILE
    if "meta" in arrays:
        return _check_meta(_decode_meta(arrays.pop("meta"), path), path)
    old = directory / _OLD_JSON
    if not old.is_file():
        raise _error(path, "meta", f"is missing (and there is no {_OLD_JSON} of the older format)")
    try:
        meta = atomicfile.loads(old.read_text())
    except (UnicodeDecodeError, ValueError) as exc:
        raise _error(old, "the file", f"is not valid JSON ({exc})") from None
    return _check_meta(meta, old, expected=_OLD_FORMAT)


def _find(directory):
    path = Path(directory) / FILE
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint at {directory}: {FILE} is missing")
    return path


def exists(directory):
    """Whether ``directory`` holds a checkpoint file (valid or not)."""
    return (Path(directory) / FILE).is_file()


def read_meta(directory, missing_ok=False):
    """The checked metadata of the checkpoint in ``directory`` (without reading its arrays);
    ``None`` if there is no checkpoint and ``missing_ok``, else :class:`FileNotFoundError`."""
    if missing_ok and not exists(directory):
        return None
    path = _find(directory)
    return _meta_of(path.parent, _read_arrays(path, names={"meta"}))


# -- the arrays ------------------------------------------------------------------------------

def check_array(a, like, key, path):
    """``a`` must have the shape and dtype of ``like`` and be finite; else a
    :class:`CheckpointError` naming ``path`` and ``key``."""
    if a.dtype != like.dtype or a.shape != like.shape:
        raise _error(path, key, f"must be {like.dtype} of shape {like.shape}, "
                                f"got {a.dtype} of shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise _error(path, key, "holds NaN or inf")


def _check_perm(perm, n_train, pos, path):
    if perm.ndim != 1 or perm.dtype.kind not in "iu":
        raise _error(path, "perm", f"must be a 1-D integer array, got {perm.dtype} {perm.shape}")
    if len(perm) and not np.array_equal(np.sort(perm), np.arange(n_train)):
        raise _error(path, "perm", f"must be empty or a permutation of range({n_train})")
    if pos > len(perm):
        raise _error(path, "trainer.pos", f"is {pos}, beyond perm's {len(perm)} entries")
    return perm.astype(np.int64)


def _check_opt_state(arrays, template, path):
    """The ``opt/<name>/<slot>`` arrays as a state dict; a parameter has all of its slots or none
    (MCEM's optimizer covers the decoder only)."""
    state = {name: {} for name in template}
    for key in [k for k in arrays if k.startswith("opt/")]:
        _, name, slot = (key.split("/", 2) + ["", ""])[:3]
        if name not in template or slot not in template[name]:
            raise _error(path, key, "is not a slot of this optimizer and model")
        check_array(arrays[key], np.asarray(template[name][slot]), key, path)
        state[name][slot] = arrays.pop(key).copy()
    for name, slots in state.items():
        missing = sorted(template[name].keys() - slots.keys())
        if slots and missing:
            raise _error(path, f"opt/{name}/{missing[0]}", "is missing")
    if any(template.values()) and not any(state.values()):
        raise _error(path, "opt/", "arrays are missing (trainer.has_opt_state is true)")
    return state


def _check_arrays(arrays, model, optimizer, trainer, path):
    """Check ``arrays`` (consumed) against ``model``, ``optimizer`` and the trainer metadata;
    return ``(params, opt_state, perm, extra_arrays)``."""
    params = {}
    for name, p in model.params.items():
        key = f"param/{name}"
        if key not in arrays:
            raise _error(path, key, "is missing")
        check_array(arrays[key], p, key, path)
        params[name] = arrays.pop(key)
    opt_state = perm = None
    if trainer is not None:
        if "perm" not in arrays:
            raise _error(path, "perm", "is missing")
        perm = _check_perm(arrays.pop("perm"), trainer["config"]["n_train"], trainer["pos"], path)
        if trainer["has_opt_state"]:
            opt_state = _check_opt_state(arrays, optimizer.init_state(model.params), path)
    extra = {k.removeprefix("extra/"): arrays.pop(k) for k in list(arrays) if k.startswith("extra/")}
    for name, a in extra.items():
        if a.dtype.kind not in "biuf":
            raise _error(path, f"extra/{name}", f"must hold numbers, got {a.dtype}")
    if arrays:
        raise _error(path, sorted(arrays)[0], "is not part of a checkpoint")
    return params, opt_state, perm, extra


def _build(meta, path):
    try:
        model = VAE(**meta["model"])
    except (TypeError, ValueError) as exc:
        raise _error(path, "model", f"does not describe a VAE ({exc})") from None
    if meta["optimizer"] is None:
        return model, None
    config = dict(meta["optimizer"])
    try:
        return model, make_optimizer(config.pop("name"), **config)
    except (TypeError, ValueError) as exc:
        raise _error(path, "optimizer", f"does not describe an optimizer ({exc})") from None


# -- save and load ---------------------------------------------------------------------------

def save(directory, model, trainer=None, extra=None, arrays=None):
    """Write ``model`` (and, if given, the :class:`~minivae.training.trainer.Trainer`'s state) to
    ``directory/checkpoint.npz``, whole or not at all.

    Parameters
    ----------
    directory : str or Path, created if missing
    model : VAE
    trainer : Trainer (or a subclass: its ``algorithm`` and :meth:`extra_arrays` are saved too),
        optional
    extra : dict, optional, JSON-ready metadata (e.g. the dataset's name)
    arrays : dict of ndarray, optional, more arrays to store (returned as ``Checkpoint.arrays``)

    Returns
    -------
    pathlib.Path, the directory

    Raises
    ------
    CheckpointError
        if what would be written is not a valid checkpoint (non-finite parameters, say)
    OSError
        naming the file, if it cannot be written; the old checkpoint is then unchanged
    """
    directory = Path(directory)
    path = directory / FILE
    out = {f"param/{name}": p for name, p in model.params.items()}
    out.update({f"extra/{name}": np.asarray(a) for name, a in (arrays or {}).items()})
    try:
        config = model.config()
    except ValueError as exc:  # a latent family that cannot be recorded
        raise CheckpointError(f"{path}: cannot save: {exc}") from None
    meta = {"format": FORMAT, "algorithm": None, "model": config, "extra": extra or {},
            "trainer": None, "optimizer": None}
    if trainer is not None:
        out.update(_own_arrays(trainer, extra or {}, arrays or {}, path))
        meta["algorithm"] = trainer.algorithm
        for name, slots in (trainer.opt_state or {}).items():
            out.update({f"opt/{name}/{slot}": a for slot, a in slots.items()})
        out["perm"] = trainer.perm
        meta["optimizer"] = trainer.optimizer.config()
        meta["trainer"] = {"config": trainer.config(), "samples": trainer.samples,
                           "pos": trainer.pos, "wall_time": trainer.wall_time,
                           "has_opt_state": trainer.opt_state is not None,
                           "rng_state": trainer.rng.bit_generator.state,
                           "history": [asdict(r) for r in trainer.history]}
    try:
        text = atomicfile.dumps(meta, what="the metadata")
    except ValueError as exc:
        raise CheckpointError(f"{path}: cannot save: {exc}") from None
    _check_meta(atomicfile.loads(text), path)
    _check_arrays(dict(out), model, None if trainer is None else trainer.optimizer,
                  meta["trainer"], path)
    out["meta"] = np.frombuffer(text.encode(), dtype=np.uint8)
    directory.mkdir(parents=True, exist_ok=True)
    atomicfile.replace(path, lambda f: np.savez(f, **out))
    (directory / _OLD_JSON).unlink(missing_ok=True)   # an older format's metadata, now stale
    (directory / _OLD_EXTRA).unlink(missing_ok=True)  # an older format's extra arrays, now stale
    return directory


def _own_arrays(trainer, extra, arrays, path):
    """The trainer's :meth:`extra_arrays` as ``extra/<name>`` entries, checked finite; refuse a
    caller's array of the same name, or an ``extra.algorithm`` that contradicts the trainer's."""
    if extra.get("algorithm", trainer.algorithm) != trainer.algorithm:
        raise _error(path, "extra.algorithm", f"is {extra['algorithm']!r}, but the trainer is "
                                              f"a {trainer.algorithm!r} one")
    own = trainer.extra_arrays()
    for name, a in own.items():
        if name in arrays:
            raise _error(path, f"extra/{name}", f"is the {trainer.algorithm} trainer's own; "
                                                f"give the other array another name")
        check_array(np.asarray(a), np.asarray(a), f"extra/{name}", path)
    return {f"extra/{name}": np.asarray(a) for name, a in own.items()}


def _old_extra(directory, trainer):
    """The extra arrays that runs saved before they went into the checkpoint file kept beside
    it (MCEM's chains), or ``{}``."""
    old = directory / _OLD_EXTRA
    if trainer is None or not old.is_file():
        return {}
    arrays = _read_arrays(old)
    samples = arrays.pop("samples", np.zeros(0))
    if samples.shape != () or int(samples) != trainer["samples"]:
        raise _error(old, "samples", f"is {samples}, but {FILE} is at {trainer['samples']} "
                                     f"samples: the save was interrupted; resume from an "
                                     f"earlier copy")
    return arrays


def load(directory):
    """Read and check a checkpoint written by :func:`save`.

    Returns
    -------
    Checkpoint
        ``model`` with the saved parameters (its own generator, used by ``elbo`` when given no
        ``eps``, restarts from the model's seed; the trainer's generator is restored exactly);
        ``optimizer``/``opt_state``/``trainer``/``algorithm`` are ``None`` for a model saved
        without a trainer; ``opt_state`` has an entry per parameter, empty for parameters the
        optimizer has not updated.

    Raises
    ------
    FileNotFoundError
        if there is no checkpoint file
    CheckpointError
        if it is damaged or inconsistent (one line naming the file and the field)
    """
    path = _find(directory)
    arrays = _read_arrays(path)
    meta = _meta_of(path.parent, arrays)
    model, optimizer = _build(meta, path)
    params, opt_state, perm, extra_arrays = _check_arrays(arrays, model, optimizer,
                                                          meta["trainer"], path)
    for name, p in model.params.items():
        p[...] = params[name]
    trainer = meta["trainer"] and {**meta["trainer"], "perm": perm}
    extra_arrays = extra_arrays or _old_extra(path.parent, trainer)
    return Checkpoint(model, optimizer, opt_state, trainer, meta["extra"], extra_arrays,
                      meta["algorithm"])


def check_opt_state(ckpt, names, path):
    """Refuse a checkpoint whose optimizer state lacks a slot of any of the parameters ``names``."""
    if ckpt.opt_state is None:
        return
    template = ckpt.optimizer.init_state({name: ckpt.model.params[name] for name in names})
    for name in names:
        missing = sorted(template[name].keys() - ckpt.opt_state[name].keys())
        if missing:
            raise _error(path, f"opt/{name}/{missing[0]}", "is missing")


def restore_trainer(directory, X_train, X_test=None, callbacks=(), algorithm=None, engine=None):
    """Rebuild the trainer saved in ``directory``, of the algorithm it records (a
    :class:`~minivae.training.trainer.Trainer` for AEVB, a ``WakeSleepTrainer``, an ``MCEMTrainer``), to
    continue training.

    The data must be the same as when it was saved; the trainer then continues exactly where
    it stopped (same minibatch order, noise and algorithm state as an uninterrupted run).

    Parameters
    ----------
    directory : str or Path
    X_train, X_test : the data, as given to the trainer that was saved
    callbacks : list, as for :class:`~minivae.training.trainer.Trainer`
    algorithm : str, optional, the algorithm expected: a run of another one is refused
    engine : ``"fused"`` or ``"reference"``, optional: by default the engine the run was saved
        with (``"fused"`` for a checkpoint older than that record); the same engine continues
        the run bit for bit, the other one to round-off

    Raises
    ------
    ValueError
        for a checkpoint without training state, other data, or another ``algorithm``
    CheckpointError
        for a damaged checkpoint, or an algorithm no loaded trainer class defines (import
        :mod:`minivae.baselines.wakesleep` or :mod:`minivae.baselines.mcem` to add theirs)
    """
    if algorithm is not None and algorithm not in TRAINERS:
        raise ValueError(f"unknown algorithm {algorithm!r}; choose one of "
                         f"{', '.join(sorted(TRAINERS))}")
    ckpt = load(directory)
    path = Path(directory) / FILE
    if ckpt.trainer is None:
        raise ValueError(f"{directory} holds a model without training state; nothing to resume")
    if algorithm is not None and algorithm != ckpt.algorithm:
        raise ValueError(f"{directory} holds a run of algorithm {ckpt.algorithm!r}, not "
                         f"{algorithm!r}")
    cls = _trainer_class(ckpt.algorithm, path)
    config = dict(ckpt.trainer["config"])
    n_train = config.pop("n_train")
    config["engine"] = engine or config.get("engine", "fused")
    if len(X_train) != n_train:
        raise ValueError(f"the checkpoint was trained on {n_train} rows, got {len(X_train)}")
    try:
        trainer = cls(ckpt.model, X_train, X_test, optimizer=ckpt.optimizer,
                      callbacks=callbacks, **config)
    except TypeError as exc:
        raise _error(path, "trainer.config", f"does not describe a {cls.__name__} "
                                             f"({exc})") from None
    check_opt_state(ckpt, trainer.optimized_params(), path)
    trainer.restore_extra(_checked_extra(trainer, ckpt.arrays, path))
    resume(trainer, ckpt)
    return trainer


def _trainer_class(name, path):
    if name not in TRAINERS:
        loaded = ", ".join(sorted(TRAINERS))
        raise _error(path, "algorithm", f"is {name!r}, which no loaded trainer class defines "
                                        f"(loaded: {loaded}; minivae.baselines.wakesleep and minivae.baselines.mcem "
                                        f"add theirs when imported)")
    return TRAINERS[name]


def _checked_extra(trainer, arrays, path):
    """The trainer's own extra arrays, each as the trainer's :meth:`extra_arrays` has it."""
    own = trainer.extra_arrays()
    for name, like in own.items():
        if name not in arrays:
            raise _error(path, f"extra/{name}", f"is missing (the {trainer.algorithm} trainer's "
                                                f"state)")
        check_array(arrays[name], np.asarray(like), f"extra/{name}", path)
    return {name: arrays[name] for name in own}


def resume(trainer, ckpt):
    """Set ``trainer``'s progress (samples, position, order, generator, history, wall time and
    the optimizer state of its :meth:`optimized_params`) to the checked ``ckpt``'s."""
    state = ckpt.trainer
    trainer.opt_state = None if ckpt.opt_state is None else {
        name: ckpt.opt_state[name] for name in trainer.optimized_params()}
    trainer.samples, trainer.pos, trainer.wall_time = state["samples"], state["pos"], state["wall_time"]
    trainer.perm = state["perm"]
    trainer.rng.bit_generator.state = state["rng_state"]
    trainer.history = [Record(**r) for r in state["history"]]
