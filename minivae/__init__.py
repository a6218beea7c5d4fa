"""minivae: Auto-Encoding Variational Bayes (Kingma & Welling, arXiv 1312.6114) from scratch.

Every gradient is derived by hand next to its forward pass and checked against finite
differences (:mod:`minivae.gradcheck`). The code minimizes the loss = minus the lower bound.
"""
from . import datasets, gradcheck
from .checkpoint import load, save
from .model import VAE
from .optim import SGD, Adagrad, Adam
from .training import Callback, Record, Trainer, train

__version__ = "0.1.0"
__all__ = ["VAE", "Trainer", "train", "Callback", "Record", "Adagrad", "SGD", "Adam", "save", "load",
           "datasets", "gradcheck"]
