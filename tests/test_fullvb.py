"""Full VB over the decoder's parameters (App. F): minivae.fullvb's pairs, estimator and trainer."""
import numpy as np
import pytest

from minivae import VAE
from minivae.fullvb.estimator import (algorithm2_backward, algorithm2_forward,
                                      fullvb_bound_backward, fullvb_bound_forward, theta_mu)
from minivae.fullvb.posterior import (draw_zeta, theta_kl_backward, theta_kl_forward,
                                      theta_sample_backward, theta_sample_forward)
from minivae.gaussian import LOG_2PI, kl_forward
from minivae.gradcheck import check_params, check_vjp
from minivae.modelcheck import gradient_check_case

SHAPES = {"dec.W1": (3, 4), "dec.b1": (4,)}


def _dicts(seed=0):
    """Means and log-variances; the log-variances kept away from 0, where the KL's derivative
    (sigma^2 - 1) / 2 vanishes and a relative error measures round-off only."""
    rng = np.random.default_rng(seed)
    mu = {n: rng.standard_normal(s) for n, s in SHAPES.items()}
    logvar = {n: -1.5 + 0.4 * rng.standard_normal(s) for n, s in SHAPES.items()}
    return rng, mu, logvar


def _flat(d):
    return np.concatenate([d[n].ravel() for n in SHAPES])


def _split(v):
    out, k = {}, 0
    for n, s in SHAPES.items():
        size = int(np.prod(s))
        out[n], k = v[k:k + size].reshape(s), k + size
    return out


# -- the single ops, h = 1e-6, <= 1e-7 ----------------------------------------------------------

def test_theta_sampler_gradient():
    rng, mu, logvar = _dicts()
    zeta = draw_zeta(rng, mu)
    dout = rng.standard_normal(_flat(mu).size)
    _, cache = theta_sample_forward(mu, logvar, zeta)
    dmu, dlogvar = theta_sample_backward(_split(dout), cache)
    f = lambda: _flat(theta_sample_forward(mu, logvar, zeta)[0])  # noqa: E731
    inputs = {**{f"mu.{n}": mu[n] for n in SHAPES}, **{f"logvar.{n}": logvar[n] for n in SHAPES}}
    analytic = {**{f"mu.{n}": dmu[n] for n in SHAPES}, **{f"logvar.{n}": dlogvar[n] for n in SHAPES}}
    check_vjp(f, inputs, dout, analytic, h=1e-6, tol=1e-7)


def test_theta_kl_gradient_and_value():
    rng, mu, logvar = _dicts(1)
    kl, cache = theta_kl_forward(mu, logvar)
    dmu, dlogvar = theta_kl_backward(0.37, cache)
    f = lambda: np.array(theta_kl_forward(mu, logvar)[0])  # noqa: E731
    inputs = {**{f"mu.{n}": mu[n] for n in SHAPES}, **{f"logvar.{n}": logvar[n] for n in SHAPES}}
    analytic = {**{f"mu.{n}": dmu[n] for n in SHAPES}, **{f"logvar.{n}": dlogvar[n] for n in SHAPES}}
    check_vjp(f, inputs, np.array(0.37), analytic, h=1e-6, tol=1e-7)
    # summed over every entry of theta, the latent KL's formula entry by entry
    by_rows, _ = kl_forward(_flat(mu)[None], _flat(logvar)[None])
    assert kl == pytest.approx(float(by_rows[0]), rel=1e-14)
    var = np.exp(_flat(logvar))
    assert kl == pytest.approx(0.5 * np.sum(_flat(mu) ** 2 + var - 1 - np.log(var)), rel=1e-12)


def test_theta_sampler_moments():
    """theta = mu + sigma * zeta has mean mu and variance sigma^2 (200,000 draws, 5 sigma)."""
    rng, mu, logvar = _dicts(2)
    n = 200_000
    samples = np.stack([_flat(theta_sample_forward(mu, logvar, z)[0])
                        for z in (draw_zeta(rng, mu) for _ in range(n))])
    m, v = _flat(mu), np.exp(_flat(logvar))
    assert np.all(np.abs(samples.mean(0) - m) < 5 * np.sqrt(v / n))
    assert np.all(np.abs(samples.var(0) - v) < 5 * v * np.sqrt(2 / n))


# -- the whole objective, the five-point stencil, <= 1e-6 --------------------------------------

def _case(decoder="bernoulli", seed=0):
    model, X, eps, rng = gradient_check_case(decoder, L=2, seed=seed)
    theta_logvar = {n: -1.0 + 0.5 * rng.standard_normal(p.shape) for n, p in theta_mu(model).items()}
    return model, X, eps, rng, theta_logvar


def _all(model, theta_logvar, grads=None, dlogvar=None):
    if grads is None:
        return {**model.params, **{f"logvar:{n}": a for n, a in theta_logvar.items()}}
    return {**grads, **{f"logvar:{n}": a for n, a in dlogvar.items()}}


@pytest.mark.parametrize("decoder", ["bernoulli", "gaussian"])
def test_minibatch_objective_gradient(decoder):
    model, X, eps, rng, theta_logvar = _case(decoder)
    zeta = draw_zeta(rng, theta_mu(model))
    N = 40
    loss = lambda: -fullvb_bound_forward(model, X, eps, zeta, theta_logvar, N)[0] / N  # noqa: E731
    _, _, cache = fullvb_bound_forward(model, X, eps, zeta, theta_logvar, N)
    grads, dlogvar = fullvb_bound_backward(-1.0 / N, cache)
    assert grads.keys() == model.params.keys() and dlogvar.keys() == theta_logvar.keys()
    report = check_params(loss, _all(model, theta_logvar), _all(model, theta_logvar, grads, dlogvar),
                          n_checks=20, rng=rng, h=1e-3, tol=1e-6, order=4)
    assert report.passed, report


def test_algorithm2_objective_gradient():
    model, X, eps, rng, theta_logvar = _case("gaussian", seed=1)
    zetas = [draw_zeta(rng, theta_mu(model)) for _ in range(len(X))]
    N = 40
    loss = lambda: -algorithm2_forward(model, X, eps, zetas, theta_logvar, N)[0] / N  # noqa: E731
    _, _, cache = algorithm2_forward(model, X, eps, zetas, theta_logvar, N)
    grads, dlogvar = algorithm2_backward(-1.0 / N, cache)
    report = check_params(loss, _all(model, theta_logvar), _all(model, theta_logvar, grads, dlogvar),
                          n_checks=20, rng=rng, h=1e-3, tol=1e-6, order=4)
    assert report.passed, report


def test_one_row_is_f_and_the_theta_kl_is_counted_once():
    """At M = 1 the minibatch form is App. F's f = N * bound - KL_theta; Algorithm 2's average of
    L such terms holds the theta-KL once, not L times (App. F's sum over J is not over draws)."""
    model, X, eps, rng, theta_logvar = _case("bernoulli", seed=2)
    mu = theta_mu(model)
    zetas = [draw_zeta(rng, mu) for _ in range(len(X))]
    N = 1000
    kl_theta, _ = theta_kl_forward(mu, theta_logvar)
    estimate, bounds, _ = algorithm2_forward(model, X, eps, zetas, theta_logvar, N)
    assert estimate == pytest.approx(N * np.mean(bounds) - kl_theta, rel=1e-12)
    f0, b0, _ = fullvb_bound_forward(model, X[:1], eps[:, :1], zetas[0], theta_logvar, N)
    assert f0 == pytest.approx(N * b0[0] - kl_theta, rel=1e-12)
    assert b0[0] == bounds[0]


def test_zero_variance_is_the_map_bound():
    """With sigma_theta -> 0 the data term is the plain VAE's estimator B at theta = mu_theta."""
    model, X, eps, rng, _ = _case("gaussian", seed=3)
    tiny = {n: np.full(p.shape, -300.0) for n, p in theta_mu(model).items()}
    _, bounds, _ = fullvb_bound_forward(model, X, eps, draw_zeta(rng, theta_mu(model)), tiny, 10)
    np.testing.assert_allclose(bounds, model.elbo(X, eps=eps, estimator="B"), rtol=1e-13)


def test_estimator_mean_matches_the_closed_form():
    """A Gaussian decoder without the sigmoid, uncertain only in its output biases: there
    E_q(theta)[log N(x; m + delta, exp(s + gamma))] is closed-form (delta ~ N(0, v_m),
    gamma ~ N(0, v_s): E[exp(-gamma)] = exp(v_s / 2)). The Monte Carlo mean of the minibatch
    estimate over zeta must match it within 4 standard errors."""
    model = VAE(5, [4], 2, decoder="gaussian", sigmoid_mean=False, init_std=0.5, seed=4)
    rng = np.random.default_rng(4)
    X, eps, N = rng.random((3, 5)), rng.standard_normal((1, 3, 2)), 7
    mu = theta_mu(model)
    v_m, v_s = 0.3 ** 2, 0.4 ** 2
    theta_logvar = {n: np.full(p.shape, -300.0) for n, p in mu.items()}
    theta_logvar["dec.b_mean"][:] = np.log(v_m)
    theta_logvar["dec.b_logvar"][:] = np.log(v_s)
    draws = np.array([fullvb_bound_forward(model, X, eps, draw_zeta(rng, mu), theta_logvar, N)[0]
                      for _ in range(4000)])
    m_z, lv_z = model.encode(X)
    z = m_z + np.exp(0.5 * lv_z) * eps[0]
    from minivae.decoder import decoder_forward
    out, _ = decoder_forward(z, model.params, 1, model.activation, "gaussian", sigmoid_mean=False)
    m, s = out["mean"], out["logvar"]
    expected_loglik = -0.5 * np.sum(LOG_2PI + s + np.exp(-s + v_s / 2) * ((X - m) ** 2 + v_m), axis=1)
    kl_z, _ = kl_forward(m_z, lv_z)
    kl_theta, _ = theta_kl_forward(mu, theta_logvar)
    exact = N / 3 * np.sum(expected_loglik - kl_z) - kl_theta
    se = draws.std() / np.sqrt(len(draws))
    assert abs(draws.mean() - exact) < 4 * se, (draws.mean(), exact, se)


# -- the trainer ---------------------------------------------------------------------------------

from minivae.fullvb import FullVBTrainer, predictive_bound, predictive_log_px  # noqa: E402
from minivae.marginal.importance import importance_log_px  # noqa: E402
from minivae.training import checkpoint  # noqa: E402


def _data(seed=0, n=60, d=12):
    """Grey images near one of three prototypes: something to learn."""
    rng = np.random.default_rng(seed)
    prototypes = rng.random((3, d)) < 0.5
    rows = lambda m: np.clip(0.05 + 0.9 * prototypes[rng.integers(3, size=m)]  # noqa: E731
                             + 0.05 * rng.standard_normal((m, d)), 0, 1)
    return rows(n), rows(20)


def _trainer(form="minibatch", engine="reference", **kwargs):
    X, X_test = _data()
    model = VAE(12, [8], 3, seed=1, init_std=0.1)
    return FullVBTrainer(model, X, X_test, batch_size=10, seed=5, engine=engine, form=form,
                         eval_train_size=30, init_logvar=-4.0, **kwargs)


@pytest.mark.parametrize("form", ["minibatch", "algorithm2"])
def test_a_run_resumes_bit_for_bit(tmp_path, form):
    whole = _trainer(form)
    whole.run(200, eval_every=50)
    half = _trainer(form)
    half.run(100, eval_every=50)
    checkpoint.save(tmp_path, half.model, half)
    resumed = checkpoint.restore_trainer(tmp_path, *_data(), algorithm="fullvb")
    assert isinstance(resumed, FullVBTrainer) and resumed.form == form
    resumed.run(200, eval_every=50)
    for name, p in whole.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], p)
    for name, lv in whole.theta_logvar.items():
        np.testing.assert_array_equal(resumed.theta_logvar[name], lv)
        np.testing.assert_array_equal(resumed.logvar_state[name]["sum_sq"],
                                      whole.logvar_state[name]["sum_sq"])
    assert [r.test_bound for r in resumed.history] == [r.test_bound for r in whole.history]


def test_the_checkpoint_holds_the_variances_and_refuses_a_missing_one(tmp_path):
    trainer = _trainer()
    trainer.run(20, eval_every=10)
    checkpoint.save(tmp_path, trainer.model, trainer)
    ckpt = checkpoint.load(tmp_path)
    assert ckpt.algorithm == "fullvb"
    np.testing.assert_array_equal(ckpt.arrays["theta_logvar/dec.W1"], trainer.theta_logvar["dec.W1"])
    arrays = dict(np.load(tmp_path / checkpoint.FILE))
    del arrays["extra/theta_logvar/dec.W1"]
    np.savez(tmp_path / checkpoint.FILE, **arrays)
    with pytest.raises(checkpoint.CheckpointError, match="theta_logvar/dec.W1"):
        checkpoint.restore_trainer(tmp_path, *_data())


def test_training_moves_the_variances_and_raises_the_bound():
    trainer = _trainer()
    start = {n: lv.copy() for n, lv in trainer.theta_logvar.items()}
    history = trainer.run(3000, eval_every=1500)
    assert history[-1].train_bound > history[0].train_bound
    assert all(not np.array_equal(start[n], lv) for n, lv in trainer.theta_logvar.items())


def test_the_fused_engine_steps_as_the_reference_does():
    runs = [_trainer(engine=e) for e in ("reference", "fused")]
    for t in runs:
        t.run(60, eval_every=30)
    for name, p in runs[0].model.params.items():
        np.testing.assert_allclose(runs[1].model.params[name], p, rtol=1e-10, atol=1e-13)
    for name, lv in runs[0].theta_logvar.items():
        np.testing.assert_allclose(runs[1].theta_logvar[name], lv, rtol=1e-10, atol=1e-13)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="form"):
        _trainer(form="batch")
    with pytest.raises(ValueError, match="estimator B"):
        _trainer(estimator="A")
    with pytest.raises(ValueError, match="Gaussian latent"):
        X, _ = _data()
        FullVBTrainer(VAE(12, [8], 3, family="laplace"), X, engine="reference")


def test_predictive_scores_at_zero_variance_are_the_plain_ones():
    X, _ = _data()
    model = VAE(12, [8], 3, seed=2, init_std=0.3)
    tiny = {n: np.full(p.shape, -300.0) for n, p in theta_mu(model).items()}
    bound = predictive_bound(model, tiny, X, n_theta=1, rng=np.random.default_rng(0))
    eps = np.random.default_rng(0)
    _ = draw_zeta(eps, theta_mu(model))  # predictive_bound draws zeta first, then epsilon
    np.testing.assert_allclose(bound, model.elbo(X, L=1, rng=eps, estimator="B"), rtol=1e-12)
    logp = predictive_log_px(model, tiny, X, n_theta=1, k=50, rng=np.random.default_rng(1))
    rng = np.random.default_rng(1)
    _ = draw_zeta(rng, theta_mu(model))
    np.testing.assert_allclose(logp, importance_log_px(model, X, k=50, rng=rng), rtol=1e-12)


def test_reproduce_fullvb_fast(tmp_path, capsys):
    import json

    from minivae.cli.commands import main
    assert main(["reproduce", "fullvb", "--fast", "--runs", "map", "fullvb", "algorithm2",
                 "--out", str(tmp_path), "--quiet"]) == 0
    assert "test log p(x)" in capsys.readouterr().out
    result = json.loads((tmp_path / "fullvb_frey.json").read_text())
    assert list(result["runs"]) == ["map", "fullvb", "algorithm2"]
    for name, run in result["runs"].items():
        assert np.isfinite(run["test_bound"]) and np.isfinite(run["test_log_px"])
        # log p(x) by importance sampling is at least the bound, up to Monte Carlo noise
        assert run["test_log_px"] > run["test_bound"] - 5
        ckpt = checkpoint.load(tmp_path / "frey" / name)
        assert ckpt.algorithm == ("aevb" if name == "map" else "fullvb")
    assert result["runs"]["fullvb"]["theta_kl_per_datapoint"] > 0
