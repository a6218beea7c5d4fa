"""The figures of the paper's Appendix A: learned manifolds (Fig. 4) and random samples (Fig. 5).

Both train AEVB models with the paper's settings (M = 100, L = 1, estimator B, Adagrad, the
N(0, I) weight prior) as resumable runs of :mod:`minivae.experiments.runs` in
``OUT/<dataset>/J<J>/aevb/lr<lr>/``, or load trained checkpoints given with ``--from``.

* :func:`reproduce_manifold` writes ``manifold_<dataset>.png`` (2 latent dimensions) and, for
  MNIST, ``latent_means_mnist.png``: the test set's posterior means coloured by digit;
* :func:`reproduce_samples` writes ``samples_<dataset>.png``: decoder means at $z \\sim p(z)$ for
  models with 2, 5, 10 and 20 latent dimensions.

Each also writes a JSON file with what was plotted: the runs, their budgets, bounds and times.
"""
import sys
from pathlib import Path

from ..datasets import binarize_fixed
from ..training import atomicfile, checkpoint
from ..training.progress import format_seconds
from .fig2 import FIG2
from .fig2_plot import TITLES
from .latent_scatter import plot_latent_means
from .manifold import plot_manifold
from .runs import RunSpec, load_data, train_run
from .sample_grids import plot_sample_grids

__all__ = ["APPENDIX_SAMPLES", "SAMPLE_LATENTS", "reproduce_manifold", "reproduce_samples"]

APPENDIX_SAMPLES = 1_000_000
"""Default training budget per model."""

SAMPLE_LATENTS = (2, 5, 10, 20)
"""The latent sizes of the paper's Fig. 5."""


def _summary(directory, history, extra=None):
    last = history[-1] if history else {}
    return {"dir": str(directory), "samples": last.get("samples"),
            "train_bound": last.get("train_bound"), "test_bound": last.get("test_bound"),
            **(extra or {})}


def _trained_model(dataset, J, out, samples, lr, n_hidden, seed, eval_train_size, data, quiet,
                   stream):
    """Train (or resume, or read) the AEVB run with ``J`` latents; return the model and a summary."""
    spec = RunSpec(dataset, J, n_hidden, "aevb", float(lr), seed, eval_train_size)
    result = train_run(spec, out, samples, data, quiet, stream)
    if result.status != "done":
        raise FloatingPointError(f"{spec.label()} diverged: {result.message}; try a smaller --lr")
    directory = spec.directory(out)
    return checkpoint.load(directory).model, _summary(
        directory, result.history, {"n_latent": J, "lr": float(lr), "elapsed": result.elapsed,
                                    "train_time": result.train_time})


def _loaded_model(directory, dataset):
    """A model saved in ``directory`` (any minivae checkpoint) and a summary of its training."""
    ckpt = checkpoint.load(directory)
    saved = ckpt.extra.get("dataset")
    if saved is not None and saved != dataset:
        raise ValueError(f"{directory} holds a {saved} model, not {dataset}; pass --dataset {saved}")
    history = ckpt.trainer["history"] if ckpt.trainer else []
    lr = ckpt.optimizer.lr if ckpt.optimizer is not None else None
    return ckpt.model, _summary(directory, history, {"n_latent": ckpt.model.n_latent, "lr": lr,
                                                     "elapsed": ckpt.extra.get("elapsed")})


def reproduce_manifold(dataset, out="runs/appendix-a", samples=APPENDIX_SAMPLES, from_dir=None,
                       grid=20, lr=0.02, n_hidden=None, seed=0, eval_train_size=10_000,
                       quiet=False, stream=None):
    """Fig. 4: the decoder over a grid of a 2-D latent space (and, for MNIST, the test set's
    posterior means by digit).

    Parameters
    ----------
    dataset : ``"mnist"`` or ``"frey"``
    out : path, output directory (the run goes in ``out/<dataset>/J2/aevb/lr<lr>/``)
    samples : int, training budget when training
    from_dir : path of a saved model with 2 latent dimensions to plot instead of training one
    grid : int, images per axis
    lr, n_hidden, seed, eval_train_size : the run's settings (defaults: the paper's)

    Returns
    -------
    dict, the content of ``manifold_<dataset>.json``
    """
    stream = sys.stderr if stream is None else stream
    out = Path(out)
    data = load_data(dataset)
    n_hidden = FIG2[dataset].n_hidden if n_hidden is None else int(n_hidden)
    if from_dir is None:
        model, info = _trained_model(dataset, 2, out, samples, lr, n_hidden, seed, eval_train_size,
                                     data, quiet, stream)
    else:
        model, info = _loaded_model(from_dir, dataset)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"manifold_{dataset}.png"
    trained = f"{info['samples']:,} samples" if info["samples"] else "a saved model"
    plot_manifold(model, grid, data.image_shape, path,
                  title=f"{TITLES[dataset]}: decoder mean on a {grid}x{grid} grid of $z$, AEVB, "
                        f"{trained}")
    result = {"experiment": "manifold", "dataset": dataset, "grid": grid, "model": info,
              "files": [str(path)]}
    if data.y_test is not None:
        scatter = out / f"latent_means_{dataset}.png"
        plot_latent_means(model, binarize_fixed(data.X_test), data.y_test, scatter,
                          title=f"MNIST test set: posterior means\n(2-D latent space, AEVB, {trained})")
        result["files"].append(str(scatter))
    atomicfile.write_json(out / f"manifold_{dataset}.json", result)
    return result


def reproduce_samples(dataset, out="runs/appendix-a", samples=APPENDIX_SAMPLES,
                      latents=SAMPLE_LATENTS, from_dirs=None, n=100, lr=0.02, n_hidden=None,
                      seed=0, eval_train_size=10_000, quiet=False, stream=None):
    """Fig. 5: random samples from models with several latent sizes, one panel each.

    Parameters
    ----------
    dataset : ``"mnist"`` or ``"frey"``
    out : path, output directory (runs in ``out/<dataset>/J<J>/aevb/lr<lr>/``)
    samples : int, training budget per model when training
    latents : latent sizes to train (ignored with ``from_dirs``)
    from_dirs : list of paths of saved models to sample from instead of training
    n : int, samples per model
    lr, n_hidden, seed, eval_train_size : the runs' settings (defaults: the paper's)

    Returns
    -------
    dict, the content of ``samples_<dataset>.json``
    """
    stream = sys.stderr if stream is None else stream
    out = Path(out)
    data = load_data(dataset)
    n_hidden = FIG2[dataset].n_hidden if n_hidden is None else int(n_hidden)
    if from_dirs:
        loaded = [_loaded_model(d, dataset) for d in from_dirs]
    else:
        loaded = [_trained_model(dataset, int(J), out, samples, lr, n_hidden, seed,
                                 eval_train_size, data, quiet, stream) for J in latents]
    models = [(f"{model.n_latent}-D latent space" + (f", {info['samples']:,} samples"
                                                     if info["samples"] else ""), model)
              for model, info in loaded]
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"samples_{dataset}.png"
    plot_sample_grids(models, data.image_shape, path, n=n, seed=seed,
                      title=f"{TITLES[dataset]}: decoder means at z ~ N(0, I), AEVB")
    result = {"experiment": "samples", "dataset": dataset, "n": n,
              "models": [info for _, info in loaded], "files": [str(path)]}
    atomicfile.write_json(out / f"samples_{dataset}.json", result)
    if not quiet:
        total = sum(info["elapsed"] or 0.0 for _, info in loaded)
        print(f"wrote {path} (the models took {format_seconds(total)} to train and evaluate)",
              file=stream)
    return result
