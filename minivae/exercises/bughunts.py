r"""Bug hunts: bugs that real VAE code shipped, planted in the package's own functions.

A bug hunt's workspace file holds a task's functions, complete but for one bug (the package's
source with :attr:`Bug.edits` applied, so the bug cannot drift from the code it breaks), and a
line ``CAUGHT_BY = None``. The student names the check that catches the bug (:data:`KINDS`) and
fixes the code; the grader confirms both: the name is one of the checks the buggy code fails
(:attr:`Bug.caught_by`, exactly the checks it fails: a test holds it), and the fixed functions
pass every check of the task.
"""
from typing import NamedTuple

__all__ = ["Bug", "BUGS", "bug_names"]


class Bug(NamedTuple):
    """``name``, the ``task`` it breaks, a ``title``, the ``story`` (where it comes from and what
    it does), ``edits`` ``{function: ((old, new), ...)}`` on the task's functions (by name),
    the checks it fails (``caught_by``), extra import lines it needs and the expected minutes."""
    name: str
    task: str
    title: str
    story: str
    edits: dict
    caught_by: frozenset
    imports: tuple = ()
    minutes: int = 10


BUGS = (
    Bug("log_sigma_half", "sampler", "the log-sigma gradient without its 1/2",
        "An early hand-written VAE (y0ast's) lost the factor 1/2 of the gradient with respect "
        "to the log-variance: sigma = exp(logvar / 2), so dz/dlogvar = 1/2 sigma eps.",
        {"sample_backward": (("sum_to_shape(0.5 * dz * sigma * eps", "sum_to_shape(dz * sigma * eps"),)},
        frozenset({"gradient"})),
    Bug("std_exp_logvar", "sampler", "std = exp(logvar)",
        "numpy-ml's VAE took the encoder's log-variance head for a log standard deviation: "
        "std = exp(logvar), and wrote the backward of that. The model trains; but is q(z|x) the "
        "distribution the KL term (and the rest of the code) assumes?",
        {"sample_forward": (("sigma = np.exp(0.5 * logvar)", "sigma = np.exp(logvar)"),),
         "sample_backward": (("sum_to_shape(0.5 * dz * sigma * eps", "sum_to_shape(dz * sigma * eps"),)},
        frozenset({"distribution"}), minutes=15),
    Bug("epsilon_std", "sampler", "noise with standard deviation 0.01",
        "The Keras VAE example drew its noise as random_normal(stddev=epsilon_std) with "
        "epsilon_std = 0.01: samples of q(z|x) hardly vary, and the model learns something "
        "close to a plain auto-encoder.",
        {"sample_forward": (("    sigma = np.exp(0.5 * logvar)\n",
                             "    eps = 0.01 * eps  # epsilon_std\n    sigma = np.exp(0.5 * logvar)\n"),)},
        frozenset({"distribution"})),
    Bug("kl_sign", "kl", "the KL term's sign",
        "A sign slip that shows up in many first VAEs: the KL computed as -1/2 sum(mu^2 + sigma^2 "
        "- 1 - log sigma^2), and its backward with it, so the bound rewards moving away from "
        "the prior.",
        {"kl_forward": (("kl = 0.5 * np.sum(", "kl = -0.5 * np.sum("),),
         "kl_backward": (("dmu = d * mu", "dmu = -d * mu"),
                         ("dlogvar = d * 0.5 * var_minus_1", "dlogvar = -d * 0.5 * var_minus_1"))},
        frozenset({"known-answer", "distribution"})),
    Bug("sum_not_mean", "minibatch", "the sum over the minibatch where eq. 8 scales by N / M",
        "Summing the minibatch's bounds and forgetting the 1/M makes the objective, and every "
        "gradient, M times too large: the step size then depends on the batch size.",
        {"minibatch_forward": (("float(N / M * np.sum(bounds))", "float(N * np.sum(bounds))"),),
         "minibatch_backward": (("dout * cache.N / cache.M", "dout * cache.N"),)},
        frozenset({"known-answer"})),
    Bug("bernoulli_log0", "bernoulli", "the Bernoulli likelihood from probabilities",
        "Computing y = sigmoid(a) and then x log y + (1 - x) log(1 - y), as many tutorials do: "
        "once a logit passes about 37, y rounds to 1.0, log(1 - y) = log(0) = -inf, and "
        "0 * -inf is NaN.",
        {"bernoulli_loglik_forward": (
            ("    log_px_z = np.sum(x * logits - softplus(logits), axis=-1)\n",
             "    y = sigmoid(logits)\n"
             "    log_px_z = np.sum(x * np.log(y) + (1 - x) * np.log(1 - y), axis=-1)\n"),)},
        frozenset({"known-answer"}), imports=("from minivae.activations import sigmoid",)),
    Bug("sigmoid_overflow", "activations", "an overflowing sigmoid",
        "sigmoid(a) = exp(a) / (1 + exp(a)): exp(1000) is inf, inf / inf is NaN.",
        {"sigmoid": (("    return sigmoid_from(a, np.exp(-np.abs(a)))\n",
                      "    return np.exp(a) / (1.0 + np.exp(a))\n"),)},
        frozenset({"known-answer"})),
    Bug("weight_prior_sign", "weight_prior", "the weight prior's gradient with the wrong sign",
        "The gradient of log N(theta; 0, I) is -theta. With +theta the 'weight decay' pushes "
        "every weight away from zero.",
        {"log_prior_backward": (("-dout * p", "dout * p"),)},
        frozenset({"gradient"})),
    Bug("transposed_w", "affine", "W where the backward needs W transposed",
        "dX = dout W instead of dout W^T: in a square layer the shapes agree and nothing "
        "complains.",
        {"affine_backward": (("dX = dout @ W.T", "dX = dout @ W"),)},
        frozenset({"gradient"})),
    Bug("adagrad_late_accumulate", "adagrad", "Adagrad accumulating after the step",
        "The step divides by the accumulator before this gradient is added to it: the first "
        "step divides by sqrt(0) + delta.",
        {"adagrad_step": (
            ("    G[...] = adagrad_accumulate(G, g)\n"
             "    theta[...] = adagrad_param(theta, g, G, lr, delta, np.finfo(theta.dtype).tiny)\n",
             "    theta[...] = adagrad_param(theta, g, G, lr, delta, np.finfo(theta.dtype).tiny)\n"
             "    G[...] = adagrad_accumulate(G, g)\n"),)},
        frozenset({"known-answer", "training"})),
    Bug("tanh_from_preactivation", "activations", "tanh' computed from the pre-activation",
        "tanh'(a) = 1 - tanh(a)^2 = 1 - h^2; writing 1 - a^2 (the cache holds both a and h) "
        "gives a derivative that is right only at a = 0.",
        {"tanh_derivative": (("return 1.0 - h * h", "return 1.0 - a * a"),)},
        frozenset({"gradient", "known-answer"})),
)


def bug_names():
    """The bug hunts' names, in order."""
    return [b.name for b in BUGS]
