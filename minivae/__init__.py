"""minivae: Auto-Encoding Variational Bayes (Kingma & Welling, arXiv 1312.6114) from scratch.

Every gradient is derived by hand next to its forward pass and checked against finite
differences (:mod:`minivae.gradcheck`). The code minimizes the loss = minus the lower bound.

The readable core is the package's top level (``activations``, ``layers``, ``gaussian``,
``likelihoods``, ``prior``, ``estimators``, ``encoder``, ``decoder``, ``latent``, ``model``,
``optim`` and ``engine``, the reference engine that composes them). The wings import it, never
the other way round: ``fused`` (the fast engine), ``training`` (the trainer, engines by name,
evaluation, checkpoints), ``baselines`` (wake-sleep, Monte Carlo EM), ``marginal`` (log p(x)),
``experiments`` (the paper's figures and the studies beside them) and ``cli``.
"""
from . import datasets, gradcheck, reparam
from .model import VAE
from .optim import SGD, Adagrad, Adam
from .training.checkpoint import load, save
from .training.trainer import Callback, Record, Trainer, train

__version__ = "0.1.0"
__all__ = ["VAE", "Trainer", "train", "Callback", "Record", "Adagrad", "SGD", "Adam", "save", "load",
           "datasets", "gradcheck", "reparam"]
