"""log p(x) by quadrature (minivae.marginal.quadrature): the closed form of a linear Gaussian
decoder, scipy's adaptive quadrature for tanh decoders, convergence as the grid is refined, and
the same value whether the grid is processed in one pass or in several."""
import numpy as np
import pytest
import scipy.integrate

import minivae
from marginal_cases import (binary_rows, linear_gaussian, linear_gaussian_log_px,
                            linear_gaussian_rows, tiny_bernoulli)
from minivae.decoder import decoder_loglik_forward
from minivae.gaussian import log_standard_normal_forward
from minivae.marginal import quadrature_log_px
from minivae.marginal.quadrature import grid


def _joint(model, x, z):
    """p(z) p(x|z) for one row ``x (D,)`` and one point ``z (J,)``, by the package's pieces."""
    z = np.asarray(z, dtype=float)[None]
    ll, _ = decoder_loglik_forward(x[None], z, model.params, *model._decoder_args())
    return float(np.exp(ll[0] + log_standard_normal_forward(z)[0][0]))


@pytest.mark.parametrize("J", [1, 2])
def test_matches_the_closed_form_of_a_linear_gaussian_decoder(J):
    model = linear_gaussian(J)
    X = linear_gaussian_rows(model, 1, 10)
    np.testing.assert_allclose(quadrature_log_px(model, X), linear_gaussian_log_px(model, X),
                               rtol=0, atol=1e-9)


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_matches_scipy_quad_for_a_tanh_decoder_with_1d_latent(decoder):
    model = minivae.VAE(8, 5, 1, decoder=decoder, init_std=1.0, seed=2)
    rng = np.random.default_rng(0)
    X = binary_rows(0, 3) if decoder == "bernoulli" else rng.random((3, 8))
    got = quadrature_log_px(model, X)
    for i, x in enumerate(X):
        integral, _ = scipy.integrate.quad(lambda z: _joint(model, x, [z]), -12, 12,
                                           epsabs=0, epsrel=1e-11, limit=500, points=[0.0])
        assert abs(got[i] - np.log(integral)) < 1e-8


def test_matches_scipy_dblquad_for_a_tanh_decoder_with_2d_latent():
    model = tiny_bernoulli(2)
    x = binary_rows(5, 1)[0]
    integral, _ = scipy.integrate.dblquad(lambda z2, z1: _joint(model, x, [z1, z2]),
                                          -9, 9, -9, 9, epsabs=0, epsrel=1e-9)
    assert abs(quadrature_log_px(model, x[None])[0] - np.log(integral)) < 1e-7


@pytest.mark.parametrize("J", [1, 2])
def test_converges_as_the_grid_is_refined(J):
    # Exponential convergence: the error falls by orders of magnitude per doubling, and the
    # defaults are far within 0.1 nat (indeed within 1e-9) of the limit.
    model = tiny_bernoulli(J, init_std=1.0)
    X = binary_rows(3, 10)
    reference = quadrature_log_px(model, X, n_points=800 if J == 1 else 500, limit=12.0)
    errors = [np.abs(quadrature_log_px(model, X, n_points=n) - reference).max()
              for n in (25, 50, 100, 200)]
    assert errors[0] > 1e-3, errors        # the coarse grid is visibly wrong
    assert all(b < a / 10 for a, b in zip(errors, errors[1:]) if a > 1e-12), errors
    assert np.abs(quadrature_log_px(model, X) - reference).max() < 1e-9


def test_several_passes_give_the_value_of_one():
    # 2000 rows x 8 pixels make the 2000 nodes go in several passes; row by row, one pass.
    model = tiny_bernoulli(1)
    X = binary_rows(1, 2000)
    many = quadrature_log_px(model, X)
    for i in (0, 7, 1999):
        np.testing.assert_allclose(many[i], quadrature_log_px(model, X[i:i + 1])[0], rtol=1e-13)


def test_grid_is_the_midpoint_rule():
    Z, log_cell = grid(4, 2.0, 2)
    assert Z.shape == (16, 2) and np.isclose(log_cell, 2 * np.log(1.0))
    np.testing.assert_allclose(np.unique(Z[:, 0]), [-1.5, -0.5, 0.5, 1.5])
    # the rule integrates the prior itself to 1
    Z, log_cell = grid(300, 10.0, 1)
    assert abs(np.exp(log_standard_normal_forward(Z)[0]).sum() * np.exp(log_cell) - 1) < 1e-12


def test_rejects_three_latents_and_bad_grids():
    with pytest.raises(ValueError, match="J=3"):
        quadrature_log_px(minivae.VAE(8, 5, 3, seed=0), binary_rows(0, 2))
    model = tiny_bernoulli(1)
    for kwargs in (dict(limit=0.0), dict(limit=np.inf), dict(n_points=0)):
        with pytest.raises(ValueError):
            quadrature_log_px(model, binary_rows(0, 2), **kwargs)
    with pytest.raises(ValueError, match="columns"):
        quadrature_log_px(model, np.zeros((2, 3)))
