"""Reproductions of the paper's experiments, as resumable commands (``minivae reproduce ...``).

* :mod:`~minivae.reproduce.fig2` -- Fig. 2, AEVB against wake-sleep, bound vs samples seen;
* :mod:`~minivae.reproduce.appendix` -- App. A, learned manifolds (Fig. 4) and samples (Fig. 5);
* :mod:`~minivae.reproduce.iwae` -- the IWAE paper's one-stochastic-layer VAE (Burda et al. 2016,
  Table 1), with its schedule (:mod:`~minivae.reproduce.iwae_schedule`), Glorot initialization
  (:mod:`~minivae.reproduce.glorot`) and active units (:mod:`~minivae.reproduce.active_units`).

The building blocks: :mod:`~minivae.reproduce.runs` (one resumable training run),
:mod:`~minivae.reproduce.schedule` (log-spaced evaluation points),
:mod:`~minivae.reproduce.stepsize` (the paper's step-size pilot), and the figures
(:mod:`~minivae.reproduce.fig2_plot`, :mod:`~minivae.reproduce.manifold`,
:mod:`~minivae.reproduce.latent_scatter`, :mod:`~minivae.reproduce.sample_grids`).
"""
from .appendix import reproduce_manifold, reproduce_samples
from .fig2 import FAST_SAMPLES, FIG2, FULL_SAMPLES, reproduce_fig2
from .manifold import latent_grid

__all__ = ["reproduce_fig2", "reproduce_manifold", "reproduce_samples", "latent_grid", "FIG2",
           "FULL_SAMPLES", "FAST_SAMPLES"]
