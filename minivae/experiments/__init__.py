"""Reproductions of the paper's experiments, as resumable commands (``minivae reproduce ...``).

* :mod:`~minivae.experiments.fig2` -- Fig. 2, AEVB against wake-sleep, bound vs samples seen;
* :mod:`~minivae.experiments.appendix` -- App. A, learned manifolds (Fig. 4) and samples (Fig. 5);
* :mod:`~minivae.experiments.iwae` -- the IWAE paper's one-stochastic-layer VAE (Burda et al. 2016,
  Table 1), with its schedule (:mod:`~minivae.experiments.iwae_schedule`), Glorot initialization
  (:mod:`~minivae.experiments.glorot`) and active units (:mod:`~minivae.experiments.active_units`).

The building blocks: :mod:`~minivae.experiments.runs` (one resumable training run),
:mod:`~minivae.experiments.schedule` (log-spaced evaluation points),
:mod:`~minivae.experiments.stepsize` (the paper's step-size pilot), and the figures
(:mod:`~minivae.experiments.fig2_plot`, :mod:`~minivae.experiments.manifold`,
:mod:`~minivae.experiments.latent_scatter`, :mod:`~minivae.experiments.sample_grids`).
"""
from .appendix import reproduce_manifold, reproduce_samples
from .fig2 import FAST_SAMPLES, FIG2, FULL_SAMPLES, reproduce_fig2
from .manifold import latent_grid

__all__ = ["reproduce_fig2", "reproduce_manifold", "reproduce_samples", "latent_grid", "FIG2",
           "FULL_SAMPLES", "FAST_SAMPLES"]
