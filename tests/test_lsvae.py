"""Tests for minivae.lsvae.LocationScaleVAE, also trained by minivae.Trainer.

Gradient checks follow the tolerance ladder of docs/design.md: every parameter tensor of the
full loss within 1e-6 (five-point stencil, h = 1e-3). The Laplace log-density has a kink at 0 (the prior's); its check
asserts that every latent sample is far from it, so the stencil never crosses it.

Distribution-level checks, which a gradient check cannot replace: with the Gaussian family the
model computes exactly what minivae.VAE computes (estimators A and B); the Monte Carlo KL of
estimator A averages to the closed-form Laplace-to-Laplace KL; and the bound of a tiny model with
a 1-D latent stays below log p(x) computed by quadrature.
"""
import numpy as np
import pytest
import scipy.integrate
import scipy.stats as st

from minivae.decoder import decoder_loglik_forward
from minivae.gradcheck import rel_error
from minivae.lsvae import VAE_FAMILIES, LocationScaleVAE, check_lsvae_gradients
from minivae.model import VAE
from minivae.optim import Adagrad
from minivae.reparam import StudentT, Uniform
from minivae.training import Trainer

MODEL_TOL = 1e-6
KINK_MARGIN = 0.02  # |z| at least this far from the Laplace kink; the stencil's 2h = 2e-3 moves z less


def binary(rng, M, D):
    return (rng.random((M, D)) < 0.5).astype(float)


# ----------------------------------------------------------------------------------------
# 1. The full loss against finite differences, every parameter tensor
# ----------------------------------------------------------------------------------------

GRAD_CASES = [pytest.param(dict(family=fam, L=L, seed=12 if fam == "laplace" else 3), id=f"{fam}-L{L}")
              for fam in VAE_FAMILIES for L in (1, 3)] + [
    pytest.param(dict(family="laplace", decoder="gaussian", seed=4), id="laplace-gaussian-decoder"),
    pytest.param(dict(family="logistic", n_hidden=(6, 5, 4)), id="logistic-deep"),
    pytest.param(dict(family="gaussian", estimator="B", L=2), id="gaussian-B"),
    pytest.param(dict(family="logistic", prior_scale=0.55, L=2), id="logistic-prior-scale"),
]


@pytest.mark.parametrize("case", GRAD_CASES)
def test_loss_gradients_every_tensor(case):
    case = {"seed": 3, **case}
    report, z = check_lsvae_gradients(tol=MODEL_TOL, **case)
    if case["family"] == "laplace":
        assert np.abs(z).min() > KINK_MARGIN, "pick another seed: a sample is near the kink"
    n_hidden = case.get("n_hidden", (7, 5))
    decoder = case.get("decoder", "bernoulli")
    assert len(report.rows) == len(VAE(12, list(n_hidden), 3, decoder=decoder).params)
    assert report.passed, str(report)


def test_gradient_check_sees_a_wrong_gradient():
    model = LocationScaleVAE(6, 5, 2, family="logistic", init_std=0.3, seed=0)
    rng = np.random.default_rng(0)
    X, eps = binary(rng, 4, 6), model.draw_eps(rng, (2, 4, 2))
    _, grads = model.loss_and_grads(X, eps)
    grads["enc.b_logvar"] = grads["enc.b_logvar"] * 1.001
    from minivae.gradcheck import check_params
    report = check_params(lambda: model.loss_and_grads(X, eps)[0], model.params, grads, h=1e-3, order=4)
    assert [row.name for row in report.rows if not row.passed] == ["enc.b_logvar"]


# ----------------------------------------------------------------------------------------
# 2. Against minivae.VAE and closed forms
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("estimator", ["A", "B"])
def test_gaussian_family_equals_the_vae(estimator):
    rng = np.random.default_rng(1)
    X, eps = binary(rng, 6, 12), rng.standard_normal((3, 6, 3))
    vae = VAE(12, [7, 5], 3, init_std=0.3, seed=0)
    model = LocationScaleVAE(12, [7, 5], 3, family="gaussian", init_std=0.3, seed=0)
    assert all(np.array_equal(vae.params[k], model.params[k]) for k in vae.params)
    loss_v, grads_v = vae.loss_and_grads(X, eps, estimator)
    loss_m, grads_m = model.loss_and_grads(X, eps, estimator)
    assert loss_m == pytest.approx(loss_v, rel=1e-13)
    assert max(rel_error(grads_v[k], grads_m[k]) for k in grads_v) < 1e-11


def test_monte_carlo_kl_matches_the_laplace_closed_form(budget):
    # E_q[log q(z) - log p(z)] for q = Laplace(m, b), p = Laplace(0, 1) is
    # -log b + |m| + b exp(-|m| / b) - 1 per dimension.
    model = LocationScaleVAE(10, 6, 2, family="laplace", init_std=0.5, seed=2)
    rng = np.random.default_rng(2)
    X = binary(rng, 3, 10)
    L = budget(40_000, 20_000)
    eps = model.draw_eps(rng, (L, 3, 2))
    loc, scale = model.encode(X)
    z = loc + scale * eps
    log_px_z, _ = decoder_loglik_forward(X, z, model.params, 1, "tanh", "bernoulli")
    kl_mc = log_px_z - _estimator_a_terms(model, X, eps)  # (L, M): log q(z|x) - log p(z)
    closed = np.sum(-np.log(scale) + np.abs(loc) + scale * np.exp(-np.abs(loc) / scale) - 1.0, axis=-1)
    se = kl_mc.std(axis=0, ddof=1) / np.sqrt(L)
    np.testing.assert_array_less(np.abs(kl_mc.mean(axis=0) - closed), 5 * se)


def _estimator_a_terms(model, X, eps):
    """Per-sample estimator-A terms log p(x|z) + log p(z) - log q(z|x), ``(L, M)``: every
    (sample, datapoint) pair as a datapoint of its own, with one sample."""
    L, M, J = eps.shape
    return model.elbo(np.tile(X, (L, 1)), eps=eps.reshape(1, L * M, J)).reshape(L, M)


SCIPY = {"laplace": st.laplace, "logistic": st.logistic, "student_t": lambda *a: st.t(5.0, *a)}


def _quad(fn, kinks, R):
    """Integral over [-R, R], split where the Laplace densities have kinks. Beyond R = 60 scales
    the densities are below e^-60 (Student's t: its tail mass beyond 60 is about 1e-8), and
    there scipy's log-densities underflow to -inf."""
    edges = [-R, *sorted(kinks), R]
    return sum(scipy.integrate.quad(fn, a, b, epsabs=0, epsrel=1e-10, limit=200)[0]
               for a, b in zip(edges[:-1], edges[1:]))


@pytest.mark.parametrize("family", list(SCIPY))
def test_bound_matches_its_quadrature_value_and_stays_below_log_marginal(family):
    # For a 1-D latent, the bound E_q[log p(x|z) + log p(z) - log q(z|x)] and log p(x) are
    # integrals over z, computed here with scipy's densities for p(z) and q(z|x).
    model = LocationScaleVAE(5, 4, 1, family=family, init_std=0.8, seed=4)
    rng = np.random.default_rng(4)
    X = binary(rng, 2, 5)
    L = 20_000
    terms = _estimator_a_terms(model, X, model.draw_eps(rng, (L, 2, 1)))
    loc, scale = model.encode(X)
    prior = SCIPY[family]()
    for i in range(2):
        q = SCIPY[family](loc[i, 0], scale[i, 0])

        def log_px_z(z, i=i):
            return decoder_loglik_forward(X[i:i + 1], np.array([[z]]), model.params, 1, "tanh",
                                          "bernoulli")[0][0]

        def bound_integrand(z, q=q, log_px_z=log_px_z):
            density = q.pdf(z)
            return 0.0 if density == 0 else density * (log_px_z(z) + prior.logpdf(z) - q.logpdf(z))

        kinks, R = (0.0, loc[i, 0]), 60.0 * max(1.0, scale[i, 0]) + abs(loc[i, 0])
        log_px = np.log(_quad(lambda z: np.exp(log_px_z(z)) * prior.pdf(z), kinks, R))
        bound = _quad(bound_integrand, kinks, R)
        mean, se = terms[:, i].mean(), terms[:, i].std(ddof=1) / np.sqrt(L)
        assert abs(mean - bound) <= 5 * se
        assert bound < log_px


# ----------------------------------------------------------------------------------------
# 3. The API
# ----------------------------------------------------------------------------------------


def test_api_shapes_and_contracts():
    model = LocationScaleVAE(8, 6, 3, family=StudentT(dof=3.0), seed=0)
    rng = np.random.default_rng(5)
    X = binary(rng, 4, 8)
    assert model.elbo(X).shape == (4,)
    assert model.elbo(X, L=5, rng=rng).shape == (4,)
    loss, grads = model.loss_and_grads(X, model.draw_eps(rng, (4, 3)))
    assert np.isfinite(loss) and set(grads) == set(model.params)
    assert all(grads[k].shape == model.params[k].shape for k in grads)
    assert model.sample(7, rng).shape == (7, 8)
    loc, scale = model.encode(X)
    assert loc.shape == scale.shape == (4, 3) and np.all(scale > 0)
    assert model.config()["family"] == "StudentT(dof=3.0)"


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown latent family"):
        LocationScaleVAE(8, 6, 3, family="gamma")
    with pytest.raises(ValueError, match="real line"):
        LocationScaleVAE(8, 6, 3, family=Uniform())
    model = LocationScaleVAE(8, 6, 3, family="laplace", seed=0)
    X = binary(np.random.default_rng(0), 4, 8)
    with pytest.raises(ValueError, match="closed form.*gaussian"):
        model.loss_and_grads(X, np.zeros((4, 3)), estimator="B")
    with pytest.raises(ValueError, match="eps must have shape"):
        model.loss_and_grads(X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="prior N\\(0, I\\) only"):
        LocationScaleVAE(8, 6, 3, prior_scale=2.0).loss_and_grads(X, np.zeros((4, 3)), estimator="B")
    with pytest.raises(ValueError, match="prior_scale"):
        LocationScaleVAE(8, 6, 3, prior_scale=0.0)


def test_prior_scale_sets_the_prior():
    model = LocationScaleVAE(8, 6, 2, family="laplace", seed=0, prior_scale=1 / np.sqrt(2))
    z = model.family.sample(model._prior, np.random.default_rng(0), (200_000,))
    assert z.var() == pytest.approx(1.0, rel=0.02)
    assert model.config()["prior_scale"] == pytest.approx(1 / np.sqrt(2))


# ----------------------------------------------------------------------------------------
# 4. Training with minivae's Trainer machinery
# ----------------------------------------------------------------------------------------


def prototype_data(N=200, D=16, K=4, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((K, D)) < 0.5).astype(float)
    return np.clip(0.05 + 0.9 * prototypes[rng.integers(K, size=N)], 0.0, 1.0)


def test_trainer_with_gaussian_family_reproduces_the_vae_trainer():
    # Estimator A: both models go through loss_and_grads (minivae.VAE's estimator B takes its
    # fused fast path, which rounds differently).
    X = prototype_data()
    kwargs = dict(batch_size=20, seed=1, estimator="A", eval_train_size=50)
    ref = Trainer(VAE(16, 8, 2, seed=0), X, optimizer=Adagrad(lr=0.1), **kwargs)
    ours = Trainer(LocationScaleVAE(16, 8, 2, family="gaussian", seed=0), X, optimizer=Adagrad(lr=0.1), **kwargs)
    ref.run(400, eval_every=200)
    ours.run(400, eval_every=200)
    assert len(ours.history) == len(ref.history) == 3
    for a, b in zip(ref.history, ours.history):
        assert b.train_bound == pytest.approx(a.train_bound, rel=1e-10)


class _CountingFamilyNoise:
    """Wraps a model's ``draw_eps`` to record the shapes the Trainer asks for."""

    def __init__(self, model):
        self.shapes, self._draw = [], model.draw_eps
        model.draw_eps = self

    def __call__(self, rng, shape):
        self.shapes.append(tuple(shape))
        return self._draw(rng, shape)


@pytest.mark.parametrize("family", ["laplace", "logistic"])
def test_trainer_draws_the_family_noise_and_estimator_a_improves_the_bound(family):
    X = prototype_data()
    model = LocationScaleVAE(16, 8, 2, family=family, seed=0)
    spy = _CountingFamilyNoise(model)
    trainer = Trainer(model, X, optimizer=Adagrad(lr=0.1), batch_size=20, seed=1, estimator="A",
                      eval_train_size=200, eval_L=5)
    history = trainer.run(4000, eval_every=2000)
    assert spy.shapes.count((1, 20, 2)) == 200  # every training step drew the family's noise
    assert history[-1].train_bound > history[0].train_bound + 2.0
