r"""The grader's checks for every task, in course order (:data:`CHECKS`).

Each check takes the student's module (the workspace file of the task, loaded) and calls the
functions the task asks for; everything else comes from the package, so a task is graded on its
own. Seeds are fixed: a check gives the same verdict every time.
"""
import math

import numpy as np

from .. import gaussian
from ..engine import ReferenceEngine
from ..model import VAE
from ..optim import Adagrad
from .grading import Check, CheckFailed, compare, gradient_check, mean_check
from .substitute import substituted

__all__ = ["CHECKS"]

LOG_2PI = math.log(2 * math.pi)


def _rng(seed=0):
    return np.random.default_rng(seed)


# -- activations ---------------------------------------------------------------------------

def _tanh_gradient(m):
    a = _rng(1).standard_normal((4, 5))
    gradient_check("tanh_derivative", lambda: np.tanh(a), {"a": a},
                   lambda d: {"a": d * m.tanh_derivative(a.copy(), np.tanh(a))}, _rng(2),
                   hints={"a": "tanh'(a) = 1 - tanh(a)^2 = 1 - h^2: is it written with h = "
                               "tanh(a), the output, and not with the pre-activation a?"})


def _sigmoid_gradient(m):
    a = 2 * _rng(3).standard_normal((4, 5))
    gradient_check("sigmoid/sigmoid_derivative", lambda: m.sigmoid(a), {"a": a},
                   lambda d: {"a": d * m.sigmoid_derivative(a.copy(), m.sigmoid(a.copy()))}, _rng(4),
                   hints={"a": "sigma'(a) = sigma(a) (1 - sigma(a)) = h (1 - h)"})


def _exact_sigmoid(a):
    return 1 / (1 + math.exp(-a)) if a >= 0 else math.exp(a) / (1 + math.exp(a))


def _activation_values(m):
    a = np.array([-1000.0, -30.0, -2.0, 0.0, 2.0, 30.0, 1000.0])
    with np.errstate(all="ignore"):
        compare("sigmoid(a) for a = -1000, -30, -2, 0, 2, 30, 1000", m.sigmoid(a),
                [_exact_sigmoid(x) for x in a], rtol=1e-12,
                hint="exp(1000) overflows to inf and inf/inf is NaN: use 1/(1+exp(-a)) for "
                     "a >= 0 and exp(a)/(1+exp(a)) for a < 0, so exp only sees -|a|")
    b = np.array([0.0, 1.0, -2.0])
    compare("tanh_derivative(a, tanh(a)) for a = 0, 1, -2", m.tanh_derivative(b, np.tanh(b)),
            [1.0, 0.41997434161402614, 0.07065082485316443], rtol=1e-12,
            hint="tanh'(a) = 1 - tanh(a)^2")


# -- affine and MLP ------------------------------------------------------------------------

def _affine_values(m):
    X = np.array([[1.0, 2.0]])
    W = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    b = np.array([0.5, 0.0, -1.0])
    out, _ = m.affine_forward(X, W, b)
    compare("affine_forward([[1, 2]], W, b)", out, [[1.5, 2.0, 2.0]], rtol=1e-14,
            hint="out = X W + b, with X (M, D_in), W (D_in, D_out)")


def _affine_gradient(D_in, D_out, seed):
    def check(m):
        rng = _rng(seed)
        X, W, b = rng.standard_normal((4, D_in)), rng.standard_normal((D_in, D_out)), rng.standard_normal(D_out)

        def backward(d):
            dX, dW, db = m.affine_backward(d, m.affine_forward(X, W, b)[1])
            return {"X": dX, "W": dW, "b": db}
        gradient_check(f"affine_forward/affine_backward, W {D_in}x{D_out}",
                       lambda: m.affine_forward(X, W, b)[0], {"X": X, "W": W, "b": b}, backward,
                       rng, hints={"X": "dX = dout W^T (M, D_in); with a square W the shapes "
                                        "cannot tell W from W^T",
                                   "W": "dW = X^T dout (D_in, D_out)",
                                   "b": "db = the sum of dout over the batch"})
        dX, dW, db = m.affine_backward(np.ones((4, D_out)), m.affine_forward(X, W, b)[1],
                                       param_grads=False)
        if dW is not None or db is not None:
            raise CheckFailed("affine_backward(..., param_grads=False) must return (dX, None, None)")
    return check


def _mlp_gradient(m):
    rng = _rng(5)
    X = rng.standard_normal((4, 3))
    Ws = [rng.standard_normal((3, 5)), 0.5 * rng.standard_normal((5, 4))]
    bs = [rng.standard_normal(5), rng.standard_normal(4)]
    inputs = {"X": X, "W1": Ws[0], "W2": Ws[1], "b1": bs[0], "b2": bs[1]}

    def backward(d):
        dX, dWs, dbs = m.mlp_backward(d, m.mlp_forward(X, Ws, bs, "tanh")[1])
        return {"X": dX, "W1": dWs[0], "W2": dWs[1], "b1": dbs[0], "b2": dbs[1]}
    gradient_check("mlp_forward/mlp_backward, 2 tanh layers", lambda: m.mlp_forward(X, Ws, bs, "tanh")[0],
                   inputs, backward, rng,
                   hints={k: "walk the layers from the output back (reversed(cache.layers)): "
                             "activation_backward, then affine_backward; return the lists in "
                             "the forward's order" for k in inputs})


def _mlp_values(m):
    X = np.array([[1.0, -1.0]])
    Ws = [np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([[1.0], [-1.0]])]
    bs = [np.array([0.0, 1.0]), np.array([0.5])]
    H, _ = m.mlp_forward(X, Ws, bs, "identity")
    compare("mlp_forward with identity activations", H, [[-0.5]], rtol=1e-14,
            hint="h_k = f(h_{k-1} W_k + b_k), starting from h_0 = X")
    H0, _ = m.mlp_forward(X, [], [], "tanh")
    compare("mlp_forward with no layers", H0, X, rtol=0, hint="with no layers the output is X")


# -- the Gaussian pieces -------------------------------------------------------------------

def _sampler_gradient(m):
    rng = _rng(6)
    mu, logvar = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    for eps in (rng.standard_normal((3, 4)), rng.standard_normal((2, 3, 4))):
        def backward(d, eps=eps):
            dmu, dlogvar = m.sample_backward(d, m.sample_forward(mu, logvar, eps)[1])
            return {"mu": dmu, "logvar": dlogvar}
        gradient_check(f"sample_forward/sample_backward, eps {eps.shape}",
                       lambda eps=eps: m.sample_forward(mu, logvar, eps)[0],
                       {"mu": mu, "logvar": logvar}, backward, rng,
                       hints={"mu": "dz/dmu = 1; with L samples, sum over the sample axis "
                                    "(minivae.broadcast.sum_to_shape)",
                              "logvar": "z = mu + exp(logvar/2) eps, so dz/dlogvar = "
                                        "1/2 exp(logvar/2) eps: the 1/2 is the square root's"})


def _sampler_distribution(m):
    mu = np.array([[0.5, -1.0, 2.0]])
    logvar = np.log(np.array([[4.0, 1.0, 0.25]]))
    eps = _rng(7).standard_normal((100_000, 1, 3))
    z, _ = m.sample_forward(mu, logvar, eps)
    z = np.asarray(z).reshape(len(eps), 3)
    mean_check("the mean of z = sample_forward(mu, logvar, eps), eps ~ N(0, I)", z, mu[0],
               hint="z = mu + sigma eps has mean mu")
    sigma = np.exp(0.5 * logvar[0])
    mean_check("the variance of z (q's is sigma^2 = exp(logvar) = 4, 1, 0.25)",
               (z - mu[0]) ** 2, sigma ** 2,
               hint="logvar is log sigma^2, so sigma = exp(logvar / 2), not exp(logvar); and "
                    "eps is standard normal: do not scale it")


def _kl_values(m):
    kl, _ = m.kl_forward(np.full((1, 3), 2.0), np.zeros((1, 3)))
    compare("kl_forward(mu=2, logvar=0) over 3 dimensions (2 per dimension)", kl, [6.0],
            rtol=1e-12, hint="KL = 1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2)")
    kl, _ = m.kl_forward(np.zeros((1, 1)), np.full((1, 1), 2.0))
    compare("kl_forward(mu=0, log sigma=1): 1/2 (e^2 - 1 - 2) = 2.194528", kl,
            [0.5 * (math.exp(2) - 3)], rtol=1e-12,
            hint="log sigma = 1 is logvar = 2; KL = 1/2 (sigma^2 - 1 - log sigma^2) here")


def _kl_gradient(m):
    rng = _rng(8)
    mu, logvar = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))

    def backward(d):
        dmu, dlogvar = m.kl_backward(d, m.kl_forward(mu, logvar)[1])
        return {"mu": dmu, "logvar": dlogvar}
    gradient_check("kl_forward/kl_backward", lambda: m.kl_forward(mu, logvar)[0],
                   {"mu": mu, "logvar": logvar}, backward, rng,
                   hints={"mu": "dKL/dmu = mu", "logvar": "dKL/dlogvar = 1/2 (exp(logvar) - 1)"})


def _kl_distribution(m):
    mu, logvar = np.array([[0.7, -0.3]]), np.array([[0.4, -1.2]])
    eps = _rng(9).standard_normal((100_000, 1, 2))
    z = mu + np.exp(0.5 * logvar) * eps
    log_q, _ = gaussian.log_normal_forward(z, mu, logvar)
    log_p, _ = gaussian.log_standard_normal_forward(z)
    kl, _ = m.kl_forward(mu, logvar)
    mean_check("KL(q || p) against its Monte Carlo estimate E_q[log q(z) - log p(z)]",
               (log_q - log_p)[:, 0], float(np.asarray(kl)[0]), label="your KL",
               hint="the KL is non-negative: KL = 1/2 sum(mu^2 + sigma^2 - 1 - log sigma^2)")


def _log_pz_values(m):
    log_pz, _ = m.log_standard_normal_forward(np.array([[0.0, 0.0], [1.0, 2.0]]))
    compare("log N(z; 0, I) at z = (0, 0) and (1, 2)", log_pz, [-LOG_2PI, -LOG_2PI - 2.5],
            rtol=1e-13, hint="log N(z; 0, I) = -J/2 log 2 pi - 1/2 |z|^2")


def _log_pz_gradient(m):
    rng = _rng(10)
    z = rng.standard_normal((2, 3, 4))
    gradient_check("log_standard_normal_forward/backward", lambda: m.log_standard_normal_forward(z)[0],
                   {"z": z}, lambda d: {"z": m.log_standard_normal_backward(
                       d, m.log_standard_normal_forward(z)[1])}, rng, hints={"z": "d/dz = -z"})


def _log_pz_distribution(m):
    z = _rng(11).standard_normal((100_000, 3))
    log_pz, _ = m.log_standard_normal_forward(z)
    mean_check("E[log N(z; 0, I)] over z ~ N(0, I) (= -J/2 (log 2 pi + 1))", log_pz,
               -1.5 * (LOG_2PI + 1), hint="-J/2 log 2 pi - 1/2 |z|^2, summed over the last axis")


def _log_q_values(m):
    x = np.array([[1.0, 0.0]])
    mean, logvar = np.array([[0.0, 0.0]]), np.log(np.array([[4.0, 1.0]]))
    out, _ = m.log_normal_forward(x, mean, logvar)
    compare("log N(x; mean, sigma^2) at x = (1, 0), mean 0, sigma^2 = (4, 1)", out,
            [-0.5 * (2 * LOG_2PI + math.log(4) + 0.25)], rtol=1e-13,
            hint="-1/2 sum(log 2 pi + logvar + (x - mean)^2 / sigma^2)")


def _log_q_gradient(m):
    rng = _rng(12)
    x, mean, logvar = (rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4)),
                       rng.standard_normal((3, 4)))

    def backward(d):
        dx, dmean, dlogvar = m.log_normal_backward(d, m.log_normal_forward(x, mean, logvar)[1])
        return {"x": dx, "mean": dmean, "logvar": dlogvar}
    gradient_check("log_normal_forward/log_normal_backward, x (2, 3, 4), mean and logvar (3, 4)",
                   lambda: m.log_normal_forward(x, mean, logvar)[0],
                   {"x": x, "mean": mean, "logvar": logvar}, backward, rng,
                   hints={"x": "d/dx = -(x - mean) / sigma^2",
                          "mean": "d/dmean = (x - mean) / sigma^2, summed over the sample axis",
                          "logvar": "d/dlogvar = 1/2 ((x - mean)^2 / sigma^2 - 1), summed "
                                    "over the sample axis"})


def _log_q_distribution(m):
    mean, logvar = np.array([[0.3, -2.0]]), np.array([[0.5, -1.0]])
    z = mean + np.exp(0.5 * logvar) * _rng(13).standard_normal((100_000, 1, 2))
    out, _ = m.log_normal_forward(z, mean, logvar)
    mean_check("E_q[log q(z)] (minus the entropy, -1/2 sum(log 2 pi e sigma^2))", out[:, 0],
               -0.5 * float(np.sum(LOG_2PI + 1 + logvar)),
               hint="a density: check the -1/2 and the log 2 pi of every dimension")


# -- the likelihoods -----------------------------------------------------------------------

def _bernoulli_values(m):
    x = np.array([[1.0, 0.0, 0.0, 1.0, 1.0, 0.0]])
    a = np.array([[0.0, 0.0, 40.0, -40.0, 40.0, -40.0]])
    out, _ = m.bernoulli_loglik_forward(x, a)
    expected = sum(xi * ai - (max(ai, 0) + math.log1p(math.exp(-abs(ai)))) for xi, ai in zip(x[0], a[0]))
    with np.errstate(all="ignore"):
        compare("log p(x|z) for logits 0, 0, 40, -40, 40, -40 (sigma(40) rounds to 1.0)", out,
                [expected], rtol=1e-12,
                hint="from probabilities, log(1 - sigma(40)) = log(0); write it with the "
                     "logits: x a - softplus(a) (minivae.activations.softplus)")


def _bernoulli_gradient(m):
    rng = _rng(14)
    x = (rng.random((3, 5)) < 0.5).astype(float)
    a = 2 * rng.standard_normal((2, 3, 5))
    gradient_check("bernoulli_loglik_forward/backward", lambda: m.bernoulli_loglik_forward(x, a)[0],
                   {"logits": a}, lambda d: {"logits": m.bernoulli_loglik_backward(
                       d, m.bernoulli_loglik_forward(x, a)[1])}, rng,
                   hints={"logits": "d/da = x - sigma(a), times the upstream gradient of its row"})


def _gaussian_values(m):
    out, _ = m.gaussian_loglik_forward(np.array([[0.5, 0.2]]), np.array([[0.5, 0.2]]),
                                       np.zeros((1, 2)))
    compare("log p(x|z) at x = mean, logvar = 0 (= -log 2 pi over 2 pixels)", out, [-LOG_2PI],
            rtol=1e-13, hint="eq. 12: -1/2 sum(log 2 pi + logvar + (x - mean)^2 / sigma^2)")


def _gaussian_gradient(m):
    rng = _rng(15)
    x, mean, logvar = rng.random((3, 5)), rng.random((2, 3, 5)), rng.standard_normal((2, 3, 5))

    def backward(d):
        dmean, dlogvar = m.gaussian_loglik_backward(d, m.gaussian_loglik_forward(x, mean, logvar)[1])
        return {"mean": dmean, "logvar": dlogvar}
    gradient_check("gaussian_loglik_forward/backward", lambda: m.gaussian_loglik_forward(x, mean, logvar)[0],
                   {"mean": mean, "logvar": logvar}, backward, rng)


def _gaussian_distribution(m):
    mean, logvar = np.array([[0.4, 0.6, 0.1]]), np.array([[-2.0, -3.0, -1.0]])
    n = 100_000
    x = mean + np.exp(0.5 * logvar) * _rng(16).standard_normal((n, 3))
    out, _ = m.gaussian_loglik_forward(x, np.repeat(mean, n, axis=0), np.repeat(logvar, n, axis=0))
    mean_check("E[log p(x|z)] over x ~ N(mean, sigma^2) (= -1/2 sum(log 2 pi + logvar + 1))",
               out, -0.5 * float(np.sum(LOG_2PI + logvar + 1)),
               hint="eq. 12: -1/2 sum(log 2 pi + logvar + (x - mean)^2 / sigma^2)")


# -- the estimators ------------------------------------------------------------------------

def _a_values(m):
    bound, _ = m.sgvb_a_forward(np.array([[-3.0], [-5.0]]), np.array([[-1.0], [-2.0]]),
                                np.array([[0.5], [1.0]]))
    compare("estimator A of L = 2 samples: mean of log p(x|z) + log p(z) - log q(z|x)", bound,
            [-6.25], rtol=1e-14, hint="eq. 6: average over the sample axis (axis 0)")


def _a_gradient(m):
    rng = _rng(17)
    px, pz, qz = (rng.standard_normal((3, 4)) for _ in range(3))

    def backward(d):
        a, b, c = m.sgvb_a_backward(d, m.sgvb_a_forward(px, pz, qz)[1])
        return {"log_px_z": a, "log_pz": b, "log_qz": c}
    gradient_check("sgvb_a_forward/backward", lambda: m.sgvb_a_forward(px, pz, qz)[0],
                   {"log_px_z": px, "log_pz": pz, "log_qz": qz}, backward, rng,
                   hints={"log_qz": "log q enters with a minus sign"})


def _toy_bound_terms(L, seed):
    """A datapoint's pieces for a fixed q (mu, logvar) and a decoder log N(x; z, 1/2 I)."""
    mu, logvar, x = np.array([[0.3, -0.5]]), np.array([[-0.4, 0.2]]), np.array([[1.0, -1.0]])
    eps = _rng(seed).standard_normal((L, 1, 2))
    z = mu + np.exp(0.5 * logvar) * eps
    log_px_z, _ = gaussian.log_normal_forward(x, z, np.log(0.5) * np.ones_like(z))
    log_pz, _ = gaussian.log_standard_normal_forward(z)
    log_qz, _ = gaussian.log_normal_forward(z, mu, logvar)
    kl, _ = gaussian.kl_forward(mu, logvar)
    return log_px_z, log_pz, log_qz, kl


def _a_distribution(m):
    log_px_z, log_pz, log_qz, kl = _toy_bound_terms(100_000, 18)
    samples, _ = m.sgvb_a_forward(log_px_z.T, log_pz.T, log_qz.T)  # L = 1, one column a draw
    b = np.mean(log_px_z) - kl[0]
    mean_check("estimator A's mean against estimator B's (the same bound)", samples, b,
               hint="A = log p(x|z) + log p(z) - log q(z|x): unbiased for the bound, as B is")


def _b_values(m):
    bound, _ = m.sgvb_b_forward(np.array([[-3.0], [-5.0]]), np.array([1.5]))
    compare("estimator B: mean of log p(x|z) over L = 2 samples minus KL", bound, [-5.5],
            rtol=1e-14, hint="eq. 7: -KL + 1/L sum_l log p(x|z_l)")


def _b_gradient(m):
    rng = _rng(19)
    px, kl = rng.standard_normal((3, 4)), rng.standard_normal(4)

    def backward(d):
        a, b = m.sgvb_b_backward(d, m.sgvb_b_forward(px, kl)[1])
        return {"log_px_z": a, "kl": b}
    gradient_check("sgvb_b_forward/backward", lambda: m.sgvb_b_forward(px, kl)[0],
                   {"log_px_z": px, "kl": kl}, backward, rng)


def _b_distribution(m):
    log_px_z, log_pz, log_qz, kl = _toy_bound_terms(100_000, 20)
    b, _ = m.sgvb_b_forward(log_px_z, kl)
    mean_check("estimator B against the Monte Carlo mean of estimator A",
               (log_px_z + log_pz - log_qz)[:, 0], float(np.asarray(b)[0]),
               label="your estimator B", hint="B = -KL + mean of log p(x|z): the KL enters with a minus sign")


def _minibatch_values(m):
    estimate, _ = m.minibatch_forward(np.array([-1.0, -2.0, -3.0]), 60_000)
    compare("minibatch_forward(bounds = (-1, -2, -3), N = 60000)", estimate, -120_000.0,
            rtol=1e-14, hint="eq. 8: N / M times the *sum* over the minibatch (the mean times N)")


def _minibatch_gradient(m):
    rng = _rng(21)
    bounds = rng.standard_normal(5)
    gradient_check("minibatch_forward/backward", lambda: m.minibatch_forward(bounds, 1000)[0],
                   {"bounds": bounds}, lambda d: {"bounds": m.minibatch_backward(
                       d, m.minibatch_forward(bounds, 1000)[1])}, rng)


def _prior_values(m):
    params = {"a": np.array([[1.0, 2.0]]), "b": np.array([0.0])}
    value, _ = m.log_prior_forward(params)
    compare("log N(theta; 0, I) of the entries 1, 2, 0", value, -0.5 * (5 + 3 * LOG_2PI),
            rtol=1e-14, hint="-1/2 sum_k (log 2 pi + theta_k^2) over every entry of every array")


def _prior_gradient(m):
    rng = _rng(22)
    params = {"enc.W1": rng.standard_normal((3, 2)), "enc.b1": rng.standard_normal(2)}

    def backward(d):
        return m.log_prior_backward(d, m.log_prior_forward(params)[1])
    gradient_check("log_prior_forward/backward", lambda: m.log_prior_forward(params)[0], params,
                   backward, rng, hints={k: "d/dtheta log N(theta; 0, I) = -theta: the prior "
                                            "pulls every weight towards 0" for k in params})


# -- Adagrad -------------------------------------------------------------------------------

def _adagrad_values(m):
    theta, G = np.array([1.0, -2.0, 0.5]), np.zeros(3)
    expected_theta, expected_G = theta.copy(), G.copy()
    for g in (np.array([0.5, -3.0, 0.0]), np.array([0.5, 1.0, 2.0])):
        m.adagrad_step(theta, g, G, 0.1, 1e-10)
        expected_G = expected_G + g * g
        expected_theta = expected_theta - 0.1 * g / (np.sqrt(expected_G) + 1e-10)
    compare("the accumulator G after two Adagrad steps from G = 0", G, expected_G, rtol=1e-14,
            hint="G <- G + g^2, in place (G[...] = ...)")
    compare("theta after two Adagrad steps (lr 0.1) from theta = (1, -2, 0.5)", theta,
            expected_theta, rtol=1e-12,
            hint="first G <- G + g^2, then theta <- theta - lr g / (sqrt(G) + delta) with the "
                 "new G: the first step moves each entry by about lr")


def _adagrad_training(m):
    curvature = np.array([100.0, 1.0, 0.01])

    def run(step):
        theta, G, losses = np.array([1.0, 1.0, 1.0]), np.zeros(3), []
        for _ in range(100):
            step(theta, curvature * theta, G, 0.1, 1e-10)
            losses.append(0.5 * float(np.sum(curvature * theta ** 2)))
        return np.array(losses)
    ref = Adagrad(lr=0.1)
    with np.errstate(all="ignore"):
        compare("the loss curve of 100 Adagrad steps on 1/2 (100 x^2 + y^2 + 0.01 z^2)",
                run(m.adagrad_step), run(lambda t, g, G, lr, d: ref.step(t, g, {"sum_sq": G})),
                rtol=1e-9, hint="a first step that divides by sqrt(0) + delta throws theta far away")


# -- one AEVB step -------------------------------------------------------------------------

def _tiny(decoder, seed=0):
    model = VAE(5, [4], 2, decoder=decoder, init_std=0.5, seed=seed)
    rng = _rng(23 + seed)
    X = (rng.random((3, 5)) < 0.5).astype(float) if decoder == "bernoulli" else rng.random((3, 5))
    eps = rng.standard_normal((2, 3, 2))
    return model, X, eps


CASES = (("bernoulli", "B"), ("gaussian", "A"), ("bernoulli", "A"), ("gaussian", "B"))


def _aevb_values(m):
    for decoder, estimator in CASES:
        model, X, eps = _tiny(decoder)
        bound, _ = m._bound_forward(model, X, eps, estimator)
        compare(f"_bound_forward, {decoder} decoder, estimator {estimator}, against VAE.elbo",
                bound, model.elbo(X, eps=eps, estimator=estimator), rtol=1e-12,
                hint="encoder_forward, latent.sample_forward, decoder_loglik_forward, then "
                     "B: latent.kl_forward and sgvb_b_forward, or A: latent.log_prior_forward, "
                     "latent.log_q_forward and sgvb_a_forward")


def _aevb_gradient(m):
    for decoder, estimator in CASES[:2]:
        model, X, eps = _tiny(decoder, seed=1)

        def forward():
            return m._bound_forward(model, X, eps, estimator)[0]

        def backward(d):
            return m._bound_backward(model, d, m._bound_forward(model, X, eps, estimator)[1])
        gradient_check(f"_bound_forward/_bound_backward, {decoder} decoder, estimator {estimator}",
                       forward, dict(model.params), backward, _rng(24), tol=1e-5,
                       hints={name: "z depends on mu and logvar: add the sampler's gradient "
                                    "(latent.sample_backward) to the KL's (B) or log q's (A); "
                                    "with A, dz collects the decoder's, log p(z)'s and log q's"
                              for name in model.params})


def _aevb_training(m):
    def history(functions):
        X = (_rng(25).random((200, 6)) < 0.4).astype(float)
        model = VAE(6, [5], 2, seed=2)
        engine = ReferenceEngine(model, Adagrad(lr=0.05))
        rng, state, losses = _rng(26), None, []
        with substituted(functions):
            for k in range(20):
                batch = X[20 * (k % 10):20 * (k % 10) + 20]
                loss, state = engine.step(batch, rng.standard_normal((1, 20, 2)), "B", state, 1 / 200)
                losses.append(loss)
        return np.array(losses)
    yours = history({VAE._bound_forward: m._bound_forward, VAE._bound_backward: m._bound_backward})
    compare("the loss of 20 training steps (Adagrad, weight prior) against the package's",
            yours, history({}), rtol=1e-9,
            hint="the gradient must be of the loss -mean(bound): check the signs and that every "
                 "parameter gets its gradient")


CHECKS = {
    "activations": [Check("gradient", "tanh' against finite differences of tanh", _tanh_gradient),
                    Check("gradient", "sigma' against finite differences of your sigmoid",
                          _sigmoid_gradient),
                    Check("known-answer", "sigmoid at +-1000, tanh' at 0, 1, -2", _activation_values)],
    "affine": [Check("known-answer", "X W + b by hand", _affine_values),
               Check("gradient", "dX, dW, db of a square layer", _affine_gradient(3, 3, 30)),
               Check("gradient", "dX, dW, db of a 3 -> 5 layer", _affine_gradient(3, 5, 31))],
    "mlp": [Check("known-answer", "a linear MLP by hand; no layers", _mlp_values),
            Check("gradient", "dX and every dW, db of two tanh layers", _mlp_gradient)],
    "sampler": [Check("gradient", "dmu, dlogvar for L = 1 and L = 2", _sampler_gradient),
                Check("distribution", "z's mean and variance against q's", _sampler_distribution)],
    "kl": [Check("known-answer", "KL(2, 0) = 2 per dimension; KL(0, log sigma = 1) = 2.194528",
                 _kl_values),
           Check("gradient", "dmu, dlogvar", _kl_gradient),
           Check("distribution", "the KL against E_q[log q - log p]", _kl_distribution)],
    "log_pz": [Check("known-answer", "log N(z; 0, I) at two points", _log_pz_values),
               Check("gradient", "dz", _log_pz_gradient),
               Check("distribution", "E[log p(z)] under the prior", _log_pz_distribution)],
    "log_q": [Check("known-answer", "log N(x; mean, sigma^2) at a point", _log_q_values),
              Check("gradient", "dx, dmean, dlogvar with a sample axis", _log_q_gradient),
              Check("distribution", "E_q[log q] = minus the entropy", _log_q_distribution)],
    "bernoulli": [Check("known-answer", "log p(x|z) at logits 0 and +-40", _bernoulli_values),
                  Check("gradient", "dlogits", _bernoulli_gradient)],
    "gaussian_loglik": [Check("known-answer", "log p(x|z) at x = mean", _gaussian_values),
                        Check("gradient", "dmean, dlogvar", _gaussian_gradient),
                        Check("distribution", "E[log p(x|z)] under p(x|z)", _gaussian_distribution)],
    "estimator_a": [Check("known-answer", "eq. 6 by hand", _a_values),
                    Check("gradient", "the three upstream gradients", _a_gradient),
                    Check("distribution", "A's Monte Carlo mean against B", _a_distribution)],
    "estimator_b": [Check("known-answer", "eq. 7 by hand", _b_values),
                    Check("gradient", "dlog_px_z, dkl", _b_gradient),
                    Check("distribution", "B against A's Monte Carlo mean", _b_distribution)],
    "minibatch": [Check("known-answer", "eq. 8 by hand", _minibatch_values),
                  Check("gradient", "dbounds", _minibatch_gradient)],
    "weight_prior": [Check("known-answer", "log N(theta; 0, I) by hand", _prior_values),
                     Check("gradient", "dtheta for two tensors", _prior_gradient)],
    "adagrad": [Check("known-answer", "two steps by hand", _adagrad_values),
                Check("training", "100 steps on a badly scaled quadratic", _adagrad_training)],
    "aevb_step": [Check("known-answer", "the bound against VAE.elbo, both decoders and estimators",
                        _aevb_values),
                  Check("gradient", "every parameter of a tiny VAE, B and A", _aevb_gradient),
                  Check("training", "20 steps against the package's loss curve", _aevb_training)],
}
