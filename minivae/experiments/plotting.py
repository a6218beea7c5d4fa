"""Figures: the bound against training samples seen (as the paper's Fig. 2) and image grids."""
import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..training import atomicfile  # noqa: E402

__all__ = ["FIGURE_SUFFIXES", "figure_path", "plot_bounds", "plot_history", "image_grid",
           "save_image_grid"]

FIGURE_SUFFIXES = (".png", ".pdf", ".svg")  # what a figure path given on a command line may end in


def figure_path(text):
    """An argparse type: a file path ending in one of :data:`FIGURE_SUFFIXES`, checked before
    any work is done."""
    if Path(text).is_dir():
        raise argparse.ArgumentTypeError(f"{text} is a directory; give the path of a figure file")
    if Path(text).suffix.lower() not in FIGURE_SUFFIXES:
        raise argparse.ArgumentTypeError(
            f"{text}: end the file name in one of {', '.join(FIGURE_SUFFIXES)}")
    return text


def plot_bounds(lines, path, title="", ylabel=r"lower bound $\mathcal{L}$ per datapoint (nats)"):
    """Plot bound curves against training samples seen (log x-axis when all are positive) to ``path``.

    Parameters
    ----------
    lines : list of ``(label, samples, bounds, fmt)``, one curve each (``fmt`` as in ``plt.plot``)
    """
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for label, samples, bounds, fmt in lines:
        ax.plot(samples, bounds, fmt, ms=3, label=label)
    if all(min(samples) > 0 for _, samples, _, _ in lines):
        ax.set_xscale("log")
    ax.set_xlabel("training samples evaluated")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    atomicfile.write_figure(fig, path, dpi=120)
    plt.close(fig)
    return path


def plot_history(history, path, title=""):
    """Plot train and test bound per datapoint against samples seen (log x-axis) to ``path``.

    Parameters
    ----------
    history : list of records or dicts with ``samples``, ``train_bound``, ``test_bound``
    """
    rows = [r if isinstance(r, dict) else vars(r) for r in history]
    rows = [r for r in rows if r["samples"] > 0] or rows
    samples = [r["samples"] for r in rows]
    lines = [("train", samples, [r["train_bound"] for r in rows], "o-")]
    if any(r["test_bound"] is not None for r in rows):
        lines.append(("test", samples, [r["test_bound"] for r in rows], "s--"))
    return plot_bounds(lines, path, title)


def image_grid(images, image_shape, n_cols=10, pad=1):
    """Tile ``images (n, H*W)`` into one 2-D array, row by row, with ``pad`` pixels between them."""
    images = np.asarray(images).reshape(-1, *image_shape)
    n, (h, w) = len(images), image_shape
    n_rows = -(-n // n_cols)
    grid = np.ones((n_rows * (h + pad) + pad, n_cols * (w + pad) + pad))
    for k, img in enumerate(images):
        r, c = divmod(k, n_cols)
        grid[pad + r * (h + pad):pad + r * (h + pad) + h, pad + c * (w + pad):pad + c * (w + pad) + w] = img
    return grid


def save_image_grid(images, image_shape, path, n_cols=10, title=""):
    """Save a grid of grey images with values in [0, 1] as a PNG."""
    grid = image_grid(images, image_shape, n_cols)
    fig, ax = plt.subplots(figsize=(grid.shape[1] / 30, grid.shape[0] / 30 + (0.4 if title else 0)))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    atomicfile.write_figure(fig, path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
