"""The Gaussian log-likelihood and its gradients stay finite wherever the maths is, on both
backends and on both paths (readable: ``likelihoods``; fused: ``model.fastpath``).

Per coordinate, $\\log\\mathcal N(x; \\mu, e^{\\text{logvar}}) = -\\tfrac12(\\log 2\\pi + \\text{logvar})
- \\tfrac12 (x-\\mu)^2 e^{-\\text{logvar}}$. At $x = \\mu$ the second term is 0 for every logvar,
so the value is $-\\tfrac12(\\log 2\\pi + \\text{logvar})$ (+499.08 at logvar = -1000), the
gradient in $\\mu$ is 0 and in logvar -1/2; forming $1/\\sigma^2$ first made it $0 \\cdot \\infty$ =
NaN once $e^{-\\text{logvar}}$ overflowed (logvar < -709.8 in float64, < -88.7 in float32).
"""
import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from minivae import VAE, kernels
from minivae.backend import use_backend
from minivae.likelihoods import gaussian_loglik_backward, gaussian_loglik_forward
from strategies import floats

LOG_2PI = np.log(2.0 * np.pi)
DTYPES = [np.float64, np.float32]
# the smallest logvar at which the old formula still gave a number, and values past it
EXTREME = {np.float64: [-709.0, -710.0, -1e3, -1e4, -1e300], np.float32: [-88.0, -89.0, -100.0, -1e4, -1e30]}


def at_the_mean(dtype, logvar, M=2, D=3):
    x = np.linspace(0.1, 0.9, M * D, dtype=dtype).reshape(M, D)
    return x, x.copy(), np.full((M, D), logvar, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_value_at_the_mean_with_tiny_variance_is_the_known_answer(dtype):
    for logvar in EXTREME[dtype]:
        x, mean, lv = at_the_mean(dtype, logvar)
        with np.errstate(all="raise"):
            out, cache = gaussian_loglik_forward(x, mean, lv)
            dmean, dlogvar = gaussian_loglik_backward(np.ones(len(x), dtype), cache)
        expected = -0.5 * 3 * (LOG_2PI + np.float64(dtype(logvar)))
        np.testing.assert_allclose(out, expected, rtol=1e-6 if dtype == np.float32 else 1e-15)
        assert out.dtype == dtype
        np.testing.assert_array_equal(dmean, 0.0)
        np.testing.assert_array_equal(dlogvar, -0.5)


def test_the_issue_number():
    """+499.08 at logvar = -1000 for one coordinate, float64."""
    out, _ = gaussian_loglik_forward(np.array([[0.5]]), np.array([[0.5]]), np.array([[-1e3]]))
    assert out[0] == pytest.approx(499.08106, abs=1e-5)


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_off_the_mean_past_the_old_overflow_is_still_exact(dtype):
    """$(x-\\mu)^2 e^{-\\text{logvar}}$ is representable although $e^{-\\text{logvar}}$ is not:
    float64 logvar = -1000, |x - mu| = 1e-200 (value 1.97e34); float32 logvar = -100,
    |x - mu| = 2**-10 (about 2.6e37)."""
    logvar, d = (-1000.0, 1e-200) if dtype == np.float64 else (-100.0, 2.0 ** -10)
    x, mean, lv = (np.array([[v]], dtype) for v in (0.0, d, logvar))
    with np.errstate(over="ignore"):  # float32's gradient in mu, -2.7e40, does overflow
        out, cache = gaussian_loglik_forward(x, mean, lv)
        dmean, dlogvar = gaussian_loglik_backward(np.ones(1, dtype), cache)
    sq = np.exp(2.0 * np.log(d) - logvar)  # float64 in log space
    assert np.isfinite(out[0]) and out[0] == pytest.approx(-0.5 * (LOG_2PI + logvar + sq), rel=1e-5)
    assert dlogvar[0, 0] == pytest.approx(0.5 * (sq - 1.0), rel=1e-5)
    dmean_exact = -np.exp(np.log(d) - logvar)
    if np.abs(dmean_exact) < np.finfo(dtype).max:
        assert dmean[0, 0] == pytest.approx(dmean_exact, rel=1e-5)
    else:
        assert dmean[0, 0] == -np.inf


@given(x=floats(-5.0, 5.0), logvar=floats(-1e6, 50.0))
def test_at_the_mean_every_logvar_gives_the_closed_form(x, logvar):
    X = np.array([[x]])
    out, cache = gaussian_loglik_forward(X, X.copy(), np.array([[logvar]]))
    dmean, dlogvar = gaussian_loglik_backward(np.ones(1), cache)
    assert out[0] == -0.5 * (LOG_2PI + logvar)
    assert dmean[0, 0] == 0.0 and dlogvar[0, 0] == -0.5


@given(x=floats(-5.0, 5.0), mean=floats(-5.0, 5.0), logvar=floats(-30.0, 30.0))
def test_in_the_normal_range_it_is_scipys_logpdf(x, mean, logvar):
    out, _ = gaussian_loglik_forward(np.array([[x]]), np.array([[mean]]), np.array([[logvar]]))
    expected = scipy.stats.norm.logpdf(x, loc=mean, scale=np.exp(0.5 * logvar))
    assert out[0] == pytest.approx(expected, rel=1e-12, abs=1e-12)


def model_at_the_mean(dtype, logvar):
    """A Gaussian decoder whose mean is 1/2 (sigmoid of 0) and logvar ``logvar`` everywhere,
    and data equal to 1/2."""
    model = VAE(6, n_hidden=4, n_latent=2, decoder="gaussian", init_std=0.1, seed=0, dtype=dtype)
    for head in ("mean", "logvar"):
        model.params[f"dec.W_{head}"][...] = 0.0
    model.params["dec.b_mean"][...] = 0.0
    model.params["dec.b_logvar"][...] = logvar
    X = np.full((3, 6), 0.5, dtype)
    eps = np.random.default_rng(0).standard_normal((1, 3, 2)).astype(dtype)
    return model, X, eps


@pytest.mark.parametrize("backend", ["numpy", "numba"])
@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_fused_and_readable_paths_are_finite_at_the_mean(dtype, backend):
    logvar = -1e3 if dtype == "float64" else -100.0
    model, X, eps = model_at_the_mean(dtype, logvar)
    loss, grads = model.loss_and_grads(X, eps, "B")
    kernels.force_compiled_loops(True)  # the Numba loop even where libmvec is missing
    try:
        with use_backend(backend):
            fused_loss, fused_grads = model.fastpath.loss_and_grads(X, eps)
    finally:
        kernels.force_compiled_loops(False)
    kl = model.elbo(X, eps, "B") - 6 * (-0.5 * (LOG_2PI + logvar))  # bound = loglik - KL
    tol = 1e-5 if dtype == "float32" else 1e-12
    assert np.isfinite(loss) and np.isfinite(fused_loss)
    assert fused_loss == pytest.approx(loss, rel=tol)
    assert -loss == pytest.approx(np.mean(6 * (-0.5 * (LOG_2PI + logvar)) + kl), rel=tol)
    for name, g in grads.items():
        assert np.all(np.isfinite(g)) and np.all(np.isfinite(fused_grads[name])), name
        np.testing.assert_allclose(fused_grads[name], g, rtol=tol, atol=tol * max(1.0, np.max(np.abs(g))),
                                   err_msg=name)
    np.testing.assert_array_equal(grads["dec.b_mean"], 0.0)  # x = mean: no pull on the mean
