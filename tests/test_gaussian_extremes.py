r"""The Gaussian log-likelihood and its gradients stay finite wherever the maths is, on both
backends and on both paths (readable: ``likelihoods``; fused: ``fast_path(model)``).

Per coordinate, $\log\mathcal N(x; \mu, e^{\text{logvar}}) = -\tfrac12(\log 2\pi + \text{logvar})
- \tfrac12 (x-\mu)^2 e^{-\text{logvar}}$. At $x = \mu$ the second term is 0 for every logvar,
so the value is $-\tfrac12(\log 2\pi + \text{logvar})$ (+499.08 at logvar = -1000), the
gradient in $\mu$ is 0 and in logvar -1/2; it was $0 \cdot \infty$ = NaN once $e^{-\text{logvar}}$
overflowed (logvar < -709.8 in float64, < -88.7 in float32). Above the cap on the exponent
(:func:`minivae.fused.kernels.scalar.log_precision`) the numbers are the old ones, bit for bit.
"""
import numpy as np
import pytest
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from minivae.fused.engine import fast_path
from minivae import VAE
from minivae.fused import kernels
from minivae.fused.backend import use_backend
from minivae.fused.kernels import scalar as S
from minivae.likelihoods import gaussian_loglik_backward, gaussian_loglik_forward
from strategies import floats

LOG_2PI = float(np.log(2.0 * np.pi))
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
def test_off_the_mean_it_is_exact_up_to_the_cap_and_finite_beyond(dtype):
    """Up to logvar = -709 (float64) / -88 (float32) nothing changed: the known answer at a
    residual of 1e-3; below, off the mean, still a number (lower than at the mean)."""
    last, past = (-700.0, -1e3) if dtype == np.float64 else (-80.0, -100.0)
    d = 1e-3
    x, mean = np.array([[0.5]], dtype), np.array([[0.5 + d]], dtype)
    d = float(mean[0, 0]) - float(x[0, 0])  # the residual as the dtype holds it
    out, cache = gaussian_loglik_forward(x, mean, np.array([[last]], dtype))
    _, dlogvar = gaussian_loglik_backward(np.ones(1, dtype), cache)
    sq = np.exp(2.0 * np.log(d) - last)  # float64, in log space
    assert out[0] == pytest.approx(-0.5 * (LOG_2PI + last + sq), rel=1e-5)
    assert dlogvar[0, 0] == pytest.approx(0.5 * (sq - 1.0), rel=1e-5)
    with np.errstate(over="ignore"):  # the gradient in mu may overflow to -inf: it is that big
        out, cache = gaussian_loglik_forward(x, mean, np.array([[past]], dtype))
        dmean, dlogvar = gaussian_loglik_backward(np.ones(1, dtype), cache)
    assert np.isfinite(out[0]) and out[0] < -0.5 * (LOG_2PI + past)
    assert not np.isnan(dmean[0, 0]) and np.isfinite(dlogvar[0, 0]) and dlogvar[0, 0] > 0


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda t: t.__name__)
def test_in_the_normal_range_nothing_changed_bit_for_bit(dtype):
    r"""The old formula, $(x-\mu) e^{-\text{logvar}}$ and its products, on the NumPy path."""
    rng = np.random.default_rng(0)
    x, mean = rng.random((2, 50, 7)).astype(dtype)
    logvar = rng.uniform(-30.0, 10.0, (50, 7)).astype(dtype)
    out, cache = gaussian_loglik_forward(x, mean, logvar)
    diff_over_var = (x - mean) * np.exp(-logvar)
    np.testing.assert_array_equal(cache.diff_over_var, diff_over_var)
    np.testing.assert_array_equal(out, -0.5 * np.sum(LOG_2PI + logvar + (x - mean) * diff_over_var,
                                                     axis=-1))
    d = x - mean
    np.testing.assert_array_equal(S.gaussian_loglik_from(x, mean, logvar, S.precision(logvar)),
                                  -0.5 * (1.8378770664093453 + logvar + d * d * np.exp(-logvar)))


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
            fused_loss, fused_grads = fast_path(model).loss_and_grads(X, eps)
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
