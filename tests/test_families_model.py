"""Tests for the latent families of minivae.VAE (``family=``, minivae.latent), also trained by
minivae.Trainer, saved and reloaded by minivae.training.checkpoint.

Gradient checks follow the tolerance ladder of docs/design.md: every parameter tensor of the
full loss within 1e-6 (five-point stencil, h = 1e-3). The Laplace log-density has a kink at 0 (the prior's); its check
asserts that every latent sample is far from it, so the stencil never crosses it.

Distribution-level checks, which a gradient check cannot replace: the Gaussian family computes
bit for bit what the paper's composition of minivae.gaussian computes (estimators A and B), and
the generic location-scale path with a Gaussian agrees with it; the Monte Carlo KL of
estimator A averages to the closed-form Laplace-to-Laplace KL; and the bound of a tiny model with
a 1-D latent stays below log p(x) computed by quadrature.
"""
import json

import numpy as np
import pytest
import scipy.integrate
import scipy.stats as st

from minivae.training import checkpoint
from minivae import gaussian
from minivae.decoder import decoder_loglik_backward, decoder_loglik_forward
from minivae.encoder import encoder_backward, encoder_forward
from minivae.estimators import (minibatch_backward, minibatch_forward, sgvb_a_backward, sgvb_a_forward,
                                sgvb_b_backward, sgvb_b_forward)
from minivae.fused.fastpath import FastPath
from minivae.fused.engine import fast_path
from minivae.gradcheck import check_params, rel_error
from minivae.latent import LATENT_FAMILIES, GaussianLatent, LocationScaleLatent
from minivae.marginal.importance import importance_log_px
from minivae.marginal.posterior import Posterior
from minivae.model import VAE
from minivae.modelcheck import KINK_MARGIN, check_model_gradients, gradient_check_case
from minivae.optim import Adagrad
from minivae.reparam import Gaussian, Laplace, StudentT, Uniform
from minivae.training.trainer import Trainer

MODEL_TOL = 1e-6


def binary(rng, M, D):
    return (rng.random((M, D)) < 0.5).astype(float)


# ----------------------------------------------------------------------------------------
# 1. The full loss against finite differences, every parameter tensor
# ----------------------------------------------------------------------------------------

GRAD_CASES = [pytest.param(dict(family=fam, L=L, seed=12 if fam == "laplace" else 3), id=f"{fam}-L{L}")
              for fam in LATENT_FAMILIES for L in (1, 3)] + [
    pytest.param(dict(family=fam, decoder="gaussian", seed=4), id=f"{fam}-gaussian-decoder")
    for fam in LATENT_FAMILIES] + [
    pytest.param(dict(family="logistic", n_hidden=(6, 5, 4)), id="logistic-deep"),
    pytest.param(dict(family="gaussian", estimator="B", L=2), id="gaussian-B"),
    pytest.param(dict(family="gaussian", estimator="B", decoder="gaussian"),
                 id="gaussian-B-gaussian-decoder"),
    pytest.param(dict(family="logistic", prior_scale=0.55, L=2), id="logistic-prior-scale"),
    pytest.param(dict(family="gaussian", prior_scale=1.7, L=2), id="gaussian-prior-scale"),
    pytest.param(dict(family=StudentT(dof=3.0), L=2), id="student_t-dof3"),
]


def _samples(case):
    """The latent samples the check differentiates through."""
    keys = ("decoder", "L", "n_hidden", "seed", "family", "prior_scale")
    model, X, eps, _ = gradient_check_case(**{k: case[k] for k in keys if k in case})
    mu, logvar = model.encode(X)
    return model.latent.sample_forward(mu, logvar, eps)[0]


@pytest.mark.parametrize("case", GRAD_CASES)
def test_loss_gradients_every_tensor(case):
    case = {"seed": 3, "estimator": "A", **case}
    report = check_model_gradients(tol=MODEL_TOL, **case)
    if case["family"] == "laplace":
        assert np.abs(_samples(case)).min() > KINK_MARGIN
    n_hidden = case.get("n_hidden", (7, 5))
    decoder = case.get("decoder", "bernoulli")
    assert len(report.rows) == len(VAE(12, list(n_hidden), 3, decoder=decoder).params)
    assert report.passed, str(report)


def test_laplace_check_keeps_its_samples_away_from_the_kink():
    # Seed 0's first noise puts a sample 0.002 from the prior's kink, where the stencil crosses
    # it and finite differences disagree with the (one-sided) derivative: it is drawn again.
    model, X, eps, _ = gradient_check_case(family="laplace", seed=0)
    rng = np.random.default_rng(0)
    assert np.array_equal((rng.random(X.shape) < 0.5).astype(float), X)
    first = model.draw_eps(rng, eps.shape)
    mu, logvar = model.encode(X)
    assert np.abs(model.latent.sample_forward(mu, logvar, first)[0]).min() < KINK_MARGIN / 10
    assert np.abs(_samples(dict(family="laplace", seed=0))).min() > KINK_MARGIN
    assert check_model_gradients(estimator="A", family="laplace", seed=0, tol=MODEL_TOL).passed


def test_gradient_check_sees_a_wrong_gradient():
    model = VAE(6, 5, 2, family="logistic", init_std=0.3, seed=0)
    rng = np.random.default_rng(0)
    X, eps = binary(rng, 4, 6), model.draw_eps(rng, (2, 4, 2))
    _, grads = model.loss_and_grads(X, eps)
    grads["enc.b_logvar"] = grads["enc.b_logvar"] * 1.001
    report = check_params(lambda: model.loss_and_grads(X, eps)[0], model.params, grads, h=1e-3, order=4)
    assert [row.name for row in report.rows if not row.passed] == ["enc.b_logvar"]


# ----------------------------------------------------------------------------------------
# 2. Against the paper's Gaussian and closed forms
# ----------------------------------------------------------------------------------------


def _paper_loss_and_grads(model, X, eps, estimator):
    """The loss and gradient as minivae.VAE composed them before it had latent families: the
    functions of minivae.gaussian called directly, in the same order, and the minibatch
    estimator (eq. 8, per datapoint: N = 1)."""
    mu, logvar, enc = encoder_forward(X, model.params, len(model.n_hidden), model.activation)
    z, sample = gaussian.sample_forward(mu, logvar, eps)
    log_px_z, loglik = decoder_loglik_forward(X, z, model.params, *model._decoder_args())
    if estimator == "B":
        kl, kl_cache = gaussian.kl_forward(mu, logvar)
        bound, est = sgvb_b_forward(log_px_z, kl)
        estimate, minibatch = minibatch_forward(bound, 1)
        dlog_px_z, dkl = sgvb_b_backward(minibatch_backward(-1.0, minibatch), est)
        dz, grads = decoder_loglik_backward(dlog_px_z, loglik)
        dmu, dlogvar = gaussian.kl_backward(dkl, kl_cache)
    else:
        log_pz, pz = gaussian.log_standard_normal_forward(z)
        log_qz, qz = gaussian.log_q_forward(z, mu, logvar)
        bound, est = sgvb_a_forward(log_px_z, log_pz, log_qz)
        estimate, minibatch = minibatch_forward(bound, 1)
        dlog_px_z, dlog_pz, dlog_qz = sgvb_a_backward(minibatch_backward(-1.0, minibatch), est)
        dz, grads = decoder_loglik_backward(dlog_px_z, loglik)
        dz = dz + gaussian.log_standard_normal_backward(dlog_pz, pz)
        dz_q, dmu, dlogvar = gaussian.log_q_backward(dlog_qz, qz)
        dz = dz + dz_q
    dmu_s, dlogvar_s = gaussian.sample_backward(dz, sample)
    grads.update(encoder_backward(dmu + dmu_s, dlogvar + dlogvar_s, enc))
    return -estimate, grads


@pytest.mark.parametrize("family", ["gaussian", Gaussian(), {"name": "gaussian"}], ids=str)
@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
@pytest.mark.parametrize("estimator", ["A", "B"])
def test_gaussian_family_is_the_papers_vae_bit_for_bit(estimator, decoder, family):
    rng = np.random.default_rng(1)
    X, eps = rng.random((6, 12)), rng.standard_normal((3, 6, 3))
    X = binary(rng, 6, 12) if decoder == "bernoulli" else X
    model = VAE(12, [7, 5], 3, decoder=decoder, init_std=0.3, seed=0, family=family)
    assert isinstance(model.latent, GaussianLatent) and model.family_name == "gaussian"
    assert all(np.array_equal(p, VAE(12, [7, 5], 3, decoder=decoder, init_std=0.3, seed=0).params[k])
               for k, p in model.params.items())
    loss, grads = model.loss_and_grads(X, eps, estimator)
    paper_loss, paper_grads = _paper_loss_and_grads(model, X, eps, estimator)
    assert loss == paper_loss
    for k in paper_grads:
        np.testing.assert_array_equal(grads[k], paper_grads[k], err_msg=k)
    stream = np.random.default_rng(5)
    np.testing.assert_array_equal(model.draw_eps(np.random.default_rng(5), (2, 3)),
                                  stream.standard_normal((2, 3)))


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_the_location_scale_path_with_a_gaussian_agrees_with_the_closed_forms(decoder):
    # The same Gaussian through minivae.reparam's generic pieces (scale = exp(logvar / 2)).
    rng = np.random.default_rng(1)
    X = binary(rng, 6, 12) if decoder == "bernoulli" else rng.random((6, 12))
    eps = rng.standard_normal((3, 6, 3))
    paper = VAE(12, [7, 5], 3, decoder=decoder, init_std=0.3, seed=0)
    generic = VAE(12, [7, 5], 3, decoder=decoder, init_std=0.3, seed=0)
    generic.latent = LocationScaleLatent(Gaussian(), 1.0)
    loss_p, grads_p = paper.loss_and_grads(X, eps, "A")
    loss_g, grads_g = generic.loss_and_grads(X, eps, "A")
    assert loss_g == pytest.approx(loss_p, rel=1e-13)
    assert max(rel_error(grads_p[k], grads_g[k]) for k in grads_p) < 1e-11


def test_monte_carlo_kl_matches_the_laplace_closed_form(budget):
    # E_q[log q(z) - log p(z)] for q = Laplace(m, b), p = Laplace(0, 1) is
    # -log b + |m| + b exp(-|m| / b) - 1 per dimension.
    model = VAE(10, 6, 2, family="laplace", init_std=0.5, seed=2)
    rng = np.random.default_rng(2)
    X = binary(rng, 3, 10)
    L = budget(40_000, 20_000)
    eps = model.draw_eps(rng, (L, 3, 2))
    loc, logvar = model.encode(X)
    scale = np.exp(0.5 * logvar)
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
    model = VAE(5, 4, 1, family=family, init_std=0.8, seed=4)
    rng = np.random.default_rng(4)
    X = binary(rng, 2, 5)
    L = 20_000
    terms = _estimator_a_terms(model, X, model.draw_eps(rng, (L, 2, 1)))
    loc, logvar = model.encode(X)
    scale = np.exp(0.5 * logvar)
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
    model = VAE(8, 6, 3, family=StudentT(dof=3.0), seed=0)
    rng = np.random.default_rng(5)
    X = binary(rng, 4, 8)
    assert model.elbo(X).shape == (4,)
    assert model.elbo(X, L=5, rng=rng).shape == (4,)
    loss, grads = model.loss_and_grads(X, model.draw_eps(rng, (4, 3)))
    assert np.isfinite(loss) and set(grads) == set(model.params)
    assert all(grads[k].shape == model.params[k].shape for k in grads)
    assert model.sample(7, rng).shape == (7, 8)
    loc, logvar = model.encode(X)
    assert loc.shape == logvar.shape == (4, 3)
    assert model.config()["family"] == {"name": "location_scale/student_t", "dof": 3.0}
    assert model.family_name == "student_t" and repr(VAE(**model.config()).family) == "StudentT(dof=3.0)"
    assert VAE(8, 6, 3, family=StudentT()).config()["family"] == "student_t"  # the named one
    assert model.elbo(X).shape == (4,)  # estimator A by default, the only one it has


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="unknown latent family 'gamma'; choose one of gaussian, laplace"):
        VAE(8, 6, 3, family="gamma")
    with pytest.raises(ValueError, match="real line"):
        VAE(8, 6, 3, family=Uniform())
    with pytest.raises(ValueError, match="location-scale family"):
        VAE(8, 6, 3, family=3)
    with pytest.raises(ValueError, match="needs a 'name'"):
        VAE(8, 6, 3, family={"dof": 3.0})
    with pytest.raises(ValueError, match="student_t"):
        VAE(8, 6, 3, family={"name": "student_t", "df": 3.0})
    with pytest.raises(ValueError, match="dtype float32 .* float64 only"):
        VAE(8, 6, 3, family="laplace", dtype="float32")
    model = VAE(8, 6, 3, family="laplace", seed=0)
    X = binary(np.random.default_rng(0), 4, 8)
    with pytest.raises(ValueError, match="closed form.*gaussian"):
        model.loss_and_grads(X, np.zeros((4, 3)), estimator="B")
    with pytest.raises(ValueError, match="closed form.*gaussian"):
        model.elbo(X, estimator="B")
    with pytest.raises(ValueError, match="eps must have shape"):
        model.loss_and_grads(X, np.zeros((4, 2)))
    with pytest.raises(ValueError, match="prior N\\(0, I\\) only"):
        VAE(8, 6, 3, prior_scale=2.0).loss_and_grads(X, np.zeros((4, 3)), estimator="B")
    with pytest.raises(ValueError, match="prior_scale"):
        VAE(8, 6, 3, prior_scale=0.0)


def test_prior_scale_sets_the_prior():
    model = VAE(8, 6, 2, family="laplace", seed=0, prior_scale=1 / np.sqrt(2))
    z = model.latent.sample_prior(np.random.default_rng(0), (200_000,))
    assert z.var() == pytest.approx(1.0, rel=0.02)
    assert model.config()["prior_scale"] == pytest.approx(1 / np.sqrt(2))


class _OwnLaplace(Laplace):
    """A family class of one's own: not in minivae.reparam.FAMILIES."""


def test_a_family_of_ones_own_trains_but_cannot_be_saved(tmp_path):
    model = VAE(8, 6, 2, family=_OwnLaplace(), seed=0)
    X = binary(np.random.default_rng(0), 4, 8)
    assert np.isfinite(model.loss_and_grads(X, model.draw_eps(np.random.default_rng(1), (4, 2)))[0])
    assert "family=_OwnLaplace()" in repr(model)
    with pytest.raises(ValueError, match="cannot be recorded by name and parameters"):
        model.config()
    with pytest.raises(checkpoint.CheckpointError, match="cannot save: the latent family _OwnLaplace"):
        checkpoint.save(tmp_path / "run", model)
    assert not (tmp_path / "run" / checkpoint.FILE).exists()
    histories = []  # the worked example of docs/design.md: it trains on either engine
    for engine in ("fused", "reference"):
        trainer = Trainer(VAE(16, 8, 2, family=_OwnLaplace(), seed=0), prototype_data(),
                          optimizer=Adagrad(lr=0.1), batch_size=20, seed=1, estimator="A",
                          eval_train_size=200, eval_L=5, engine=engine)
        histories.append([r.train_bound for r in trainer.run(4000, eval_every=2000)])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-9)
    assert histories[1][-1] > histories[1][0] + 2.0


def test_the_fused_engine_leaves_another_family_to_the_model_and_app_d_refuses_it():
    model = VAE(8, 6, 2, family="laplace", seed=0)
    assert fast_path(model) is None  # the fused engine runs the readable model for it
    with pytest.raises(ValueError, match="FastPath computes the gaussian latent family .* laplace"):
        FastPath(model)
    with pytest.raises(ValueError, match="posterior of App. D has the prior N\\(0, I\\)"):
        Posterior(model, binary(np.random.default_rng(0), 3, 8))
    assert fast_path(VAE(8, 6, 2, seed=0, prior_scale=2.0)) is None
    assert isinstance(fast_path(VAE(8, 6, 2, seed=0)), FastPath)


@pytest.mark.parametrize("family", ["laplace", "cauchy"])
def test_importance_sampling_scores_with_the_family(family):
    # At k = 1 the importance-sampled log p(x) is estimator A with the same noise, exactly.
    model = VAE(8, 6, 2, family=family, init_std=0.5, seed=0)
    X = binary(np.random.default_rng(0), 5, 8)
    log_px = importance_log_px(model, X, k=1, rng=np.random.default_rng(3))
    eps = model.draw_eps(np.random.default_rng(3), (1, 5, 2))
    np.testing.assert_array_equal(log_px, model.elbo(X, eps=eps, estimator="A"))


# ----------------------------------------------------------------------------------------
# 4. Training with minivae's Trainer machinery
# ----------------------------------------------------------------------------------------


def prototype_data(N=200, D=16, K=4, seed=0):
    rng = np.random.default_rng(seed)
    prototypes = (rng.random((K, D)) < 0.5).astype(float)
    return np.clip(0.05 + 0.9 * prototypes[rng.integers(K, size=N)], 0.0, 1.0)


def test_trainer_with_the_generic_gaussian_reproduces_the_vae_trainer():
    # Estimator A: both models go through loss_and_grads, one through minivae.gaussian, one
    # through minivae.reparam's Gaussian.
    X = prototype_data()
    kwargs = dict(batch_size=20, seed=1, estimator="A", eval_train_size=50)
    ref = Trainer(VAE(16, 8, 2, seed=0), X, optimizer=Adagrad(lr=0.1), **kwargs)
    generic = VAE(16, 8, 2, seed=0)
    generic.latent = LocationScaleLatent(Gaussian(), 1.0)
    ours = Trainer(generic, X, optimizer=Adagrad(lr=0.1), **kwargs)
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
    model = VAE(16, 8, 2, family=family, seed=0)
    spy = _CountingFamilyNoise(model)
    trainer = Trainer(model, X, optimizer=Adagrad(lr=0.1), batch_size=20, seed=1, estimator="A",
                      eval_train_size=200, eval_L=5)
    history = trainer.run(4000, eval_every=2000)
    assert spy.shapes.count((1, 20, 2)) == 200  # every training step drew the family's noise
    assert history[-1].train_bound > history[0].train_bound + 2.0


@pytest.mark.parametrize("engine", ["fused", "reference"])
def test_the_trainer_takes_estimator_b_to_the_model_which_refuses_another_family(engine):
    trainer = Trainer(VAE(16, 8, 2, family="laplace", seed=0), prototype_data(), batch_size=20,
                      engine=engine)
    with pytest.raises(ValueError, match="estimator 'B' needs the KL in closed form"):
        trainer.run(40)
    assert trainer.samples == 0


@pytest.mark.parametrize("family", ["laplace", "student_t"])
def test_the_fused_and_reference_engines_train_another_family_alike(family):
    histories = []
    for engine in ("fused", "reference"):
        trainer = Trainer(VAE(16, 8, 2, family=family, seed=0), prototype_data(), batch_size=20,
                          seed=1, estimator="A", eval_train_size=50, engine=engine)
        histories.append([r.train_bound for r in trainer.run(400, eval_every=200)])
    np.testing.assert_allclose(histories[0], histories[1], rtol=1e-9)


# ----------------------------------------------------------------------------------------
# 5. Checkpoints reload every family
# ----------------------------------------------------------------------------------------

SAVED = [pytest.param(dict(family=name), id=name) for name in LATENT_FAMILIES] + [
    pytest.param(dict(family=StudentT(dof=3.0)), id="student_t-dof3"),
    pytest.param(dict(family="logistic", prior_scale=0.55), id="logistic-prior-scale")]


@pytest.mark.parametrize("kwargs", SAVED)
def test_save_and_load_round_trip(kwargs, tmp_path):
    X = prototype_data(N=60)
    model = VAE(16, 8, 2, seed=0, **kwargs)
    trainer = Trainer(model, X, optimizer=Adagrad(lr=0.1), batch_size=20, seed=1,
                      estimator=model._check_estimator(None), eval_train_size=20)
    trainer.run(60)
    checkpoint.save(tmp_path / "run", model, trainer)
    loaded = checkpoint.load(tmp_path / "run").model
    assert type(loaded.family) is type(model.family) and repr(loaded.family) == repr(model.family)
    assert loaded.config() == model.config() and loaded.prior_scale == model.prior_scale
    for name, p in model.params.items():
        np.testing.assert_array_equal(loaded.params[name], p, err_msg=name)
    eps = model.draw_eps(np.random.default_rng(7), (2, 10, 2))
    np.testing.assert_array_equal(loaded.elbo(X[:10], eps=eps, estimator="A"),
                                  model.elbo(X[:10], eps=eps, estimator="A"))
    resumed = checkpoint.restore_trainer(tmp_path / "run", X)
    resumed.run(120)
    trainer.run(120)
    for name, p in trainer.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], p, err_msg=name)


def test_a_checkpoint_without_a_family_loads_as_the_gaussian(tmp_path):
    model = VAE(16, 8, 2, seed=0)
    checkpoint.save(tmp_path / "run", model)
    path = tmp_path / "run" / checkpoint.FILE
    with np.load(path) as npz:
        arrays = dict(npz)
    meta = json.loads(arrays["meta"].tobytes())
    del meta["model"]["family"], meta["model"]["prior_scale"]  # as written before families
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    loaded = checkpoint.load(tmp_path / "run").model
    assert isinstance(loaded.latent, GaussianLatent) and loaded.config() == model.config()


def test_a_checkpoint_naming_an_unknown_family_is_refused_in_one_line(tmp_path):
    model = VAE(16, 8, 2, seed=0, family="laplace")
    checkpoint.save(tmp_path / "run", model)
    path = tmp_path / "run" / checkpoint.FILE
    with np.load(path) as npz:
        arrays = dict(npz)
    meta = json.loads(arrays["meta"].tobytes())
    meta["model"]["family"] = "Laplace()"  # what LocationScaleVAE's config() wrote
    arrays["meta"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(path, **arrays)
    with pytest.raises(checkpoint.CheckpointError,
                       match="model does not describe a VAE .*unknown latent family 'Laplace\\(\\)'"):
        checkpoint.load(tmp_path / "run")


def test_mcem_refuses_another_latent_family():
    """MCEM's sampler and M-step are written for the N(0, I) prior: a Laplace model is refused,
    not trained as if it were Gaussian."""
    from minivae.baselines.mcem import MCEMTrainer
    X = (np.random.default_rng(0).random((40, 8)) < 0.5) * 1.0
    with pytest.raises(ValueError, match="mcem is written for the paper's Gaussian latent.*laplace"):
        MCEMTrainer(VAE(8, 6, 2, family="laplace", seed=0), X)
