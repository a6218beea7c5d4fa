r"""The course: the tasks in order, each naming the package functions it replaces.

A task's functions carry ``# exercise: <task> begin`` / ``# exercise: end`` markers around the
lines a student writes (:mod:`minivae.exercises.source`); its checks are in
:mod:`minivae.exercises.checks`. The minutes are a guide for a student who has read the paper's
Sec. 2 and App. B-C.
"""
from typing import NamedTuple

__all__ = ["Task", "TASKS", "task_names"]


class Task(NamedTuple):
    """One exercise: ``name`` (the grader's key), ``title``, the paper's ``where``, the replaced
    package ``functions`` (``"module:qualname"``), the expected ``minutes`` and an ``intro``."""
    name: str
    title: str
    where: str
    functions: tuple
    minutes: int
    intro: str


TASKS = (
    Task("activations", "the hidden units' tanh and the sigmoid", "App. C",
         ("minivae.activations:sigmoid", "minivae.activations:tanh_derivative",
          "minivae.activations:sigmoid_derivative"), 15,
         "The MLPs use tanh hidden units; the Frey Face decoder squashes its mean with a sigmoid. "
         "Write a sigmoid that never overflows, and both derivatives from the forward's output h."),
    Task("affine", "the affine layer, forward and backward", "App. C",
         ("minivae.layers:affine_forward", "minivae.layers:affine_backward"), 15,
         "Every layer of the encoder and decoder is out = X W + b (batch first). Write it and its "
         "vector-Jacobian product."),
    Task("mlp", "the MLP's hidden stack, forward and backward (the chain rule)", "App. C",
         ("minivae.layers:mlp_forward", "minivae.layers:mlp_backward"), 20,
         "Compose affine layers and activations; the backward walks the layers in reverse."),
    Task("sampler", "the reparameterized sampler z = mu + sigma * eps", "Sec. 2.4, eq. 4 and 10",
         ("minivae.gaussian:sample_forward", "minivae.gaussian:sample_backward"), 15,
         "The reparameterization trick: z is a differentiable function of mu, logvar and the noise."),
    Task("kl", "the KL divergence to the prior in closed form", "App. B",
         ("minivae.gaussian:kl_forward", "minivae.gaussian:kl_backward"), 20,
         "-KL(q(z|x) || N(0, I)) = 1/2 sum_j (1 + log sigma_j^2 - mu_j^2 - sigma_j^2)."),
    Task("log_pz", "the prior log N(z; 0, I)", "Sec. 3, eq. 6",
         ("minivae.gaussian:log_standard_normal_forward",
          "minivae.gaussian:log_standard_normal_backward"), 10,
         "Estimator A scores every sample under the prior."),
    Task("log_q", "a diagonal Gaussian's log-density, log q(z|x)", "Sec. 3, eq. 6 and 9",
         ("minivae.gaussian:log_normal_forward", "minivae.gaussian:log_normal_backward"), 25,
         "log N(x; mean, sigma^2 I), with inputs that broadcast (a sample axis in front)."),
    Task("bernoulli", "the Bernoulli log-likelihood from logits", "App. C.1, eq. 11",
         ("minivae.likelihoods:bernoulli_loglik_forward",
          "minivae.likelihoods:bernoulli_loglik_backward"), 15,
         "MNIST's decoder: log p(x|z) = sum_d x_d log y_d + (1 - x_d) log(1 - y_d), y = sigmoid(a)."),
    Task("gaussian_loglik", "the Gaussian log-likelihood", "App. C.2, eq. 12",
         ("minivae.likelihoods:gaussian_loglik_forward",
          "minivae.likelihoods:gaussian_loglik_backward"), 10,
         "Frey Face's decoder: log N(x; mean, sigma^2 I) from the decoder's two heads."),
    Task("estimator_a", "the generic SGVB estimator A", "Sec. 2.3, eq. 6",
         ("minivae.estimators:sgvb_a_forward", "minivae.estimators:sgvb_a_backward"), 10,
         "1/L sum_l log p(x, z_l) - log q(z_l|x), for any q and prior."),
    Task("estimator_b", "SGVB estimator B, with the KL in closed form", "Sec. 2.3, eq. 7",
         ("minivae.estimators:sgvb_b_forward", "minivae.estimators:sgvb_b_backward"), 10,
         "-KL(q || p) + 1/L sum_l log p(x|z_l): the paper's choice, lower variance."),
    Task("minibatch", "the minibatch estimator of the whole dataset's bound", "Sec. 2.3, eq. 8",
         ("minivae.estimators:minibatch_forward", "minivae.estimators:minibatch_backward"), 10,
         "N / M times the sum of the minibatch's per-datapoint bounds."),
    Task("weight_prior", "the weight prior log N(theta; 0, I)", "Sec. 5",
         ("minivae.prior:log_prior_forward", "minivae.prior:log_prior_backward"), 10,
         "The experiments' 'small weight decay term corresponding to a prior p(theta) = N(0, I)'."),
    Task("adagrad", "Adagrad's step", "Sec. 5",
         ("minivae.optim:adagrad_step",), 15,
         "The paper's optimizer: per-entry step sizes from the running sum of squared gradients."),
    Task("aevb_step", "one AEVB step: the bound's forward and backward, composed", "Algorithm 1",
         ("minivae.model:VAE._bound_forward", "minivae.model:VAE._bound_backward"), 40,
         "Compose the pieces: encoder, sampler, decoder, and estimator B or A; then the backward "
         "in reverse. `self` is the VAE (self.params, self.latent, self._decoder_args()). Write "
         "these as plain functions: the grader calls them with the model as first argument."),
)


def task_names():
    """The task names, in course order."""
    return [t.name for t in TASKS]
