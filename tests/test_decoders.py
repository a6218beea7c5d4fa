r"""Adding a decoder is one class (the worked example of docs/design.md and of
:mod:`minivae.decoder`'s docstring).

The example kind, ``"unit_gaussian"``, is the Gaussian pixel likelihood with unit variance,
$\log p(x|z) = -\frac12\sum_d \left(\log 2\pi + (x_d - \mu_d)^2\right)$, one head ``mean`` and
$\partial/\partial\mu_d = x_d - \mu_d$ (the squared-error decoder). It is defined in this file
alone; nothing in the package knows it, and the registry forgets it after each test.
"""
import numpy as np
import pytest

from minivae import decoder
from minivae.cli.commands import main
from minivae.fused.engine import fast_path
from minivae.fused.fastpath import LOGLIK_KERNELS, FastPath
from minivae.gaussian import LOG_2PI
from minivae.model import VAE
from minivae.modelcheck import check_model_gradients
from minivae.training import checkpoint
from minivae.training.trainer import Trainer


def define_unit_gaussian(monkeypatch):
    """Register the example kind in a copy of the registry that ``monkeypatch`` puts back."""
    monkeypatch.setattr(decoder, "DECODERS", dict(decoder.DECODERS))  # forget it after the test

    class UnitGaussian(decoder.Decoder):
        r"""$p(x|z) = \mathcal N(x; \mu, I)$; real data; no fused kernels."""
        name = "unit_gaussian"
        heads = ("mean",)

        def loglik_forward(self, x, outputs):
            d = x - outputs["mean"]
            return -0.5 * np.sum(LOG_2PI + d * d, axis=-1), d

        def loglik_backward(self, dlog_px_z, d):
            return {"mean": dlog_px_z[..., None] * d}

        def mean(self, outputs):
            return outputs["mean"]

    return UnitGaussian


@pytest.fixture
def unit_gaussian(monkeypatch):
    return define_unit_gaussian(monkeypatch)


def real_data(n=200, D=10, seed=0):
    """Real-valued data, partly outside [0, 1] (which a Bernoulli decoder refuses)."""
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 2)) @ rng.standard_normal((2, D))
            + 0.3 * rng.standard_normal((n, D)))


def test_defining_the_class_registers_it_and_the_registry_forgets_it():
    with pytest.MonkeyPatch.context() as mp:
        kind = define_unit_gaussian(mp)
        assert decoder.get_decoder("unit_gaussian") is decoder.DECODERS["unit_gaussian"]
        assert isinstance(decoder.DECODERS["unit_gaussian"], kind)
        assert "unit_gaussian" in decoder.decoder_names()
    assert "unit_gaussian" not in decoder.DECODERS
    with pytest.raises(ValueError, match="unknown decoder 'unit_gaussian'; choose one of "
                                         "'bernoulli', 'gaussian'"):
        VAE(10, 6, 2, decoder="unit_gaussian")


def test_a_taken_name_is_refused(monkeypatch):
    monkeypatch.setattr(decoder, "DECODERS", dict(decoder.DECODERS))
    with pytest.raises(ValueError, match="decoder 'bernoulli' is taken by Bernoulli"):
        class Coin(decoder.Bernoulli):
            name = "bernoulli"
    assert type(decoder.DECODERS["bernoulli"]) is decoder.Bernoulli


def test_the_model_builds_its_heads_records_its_name_and_reports_its_mean(unit_gaussian):
    model = VAE(10, 6, 2, decoder="unit_gaussian", seed=0)
    assert model.config()["decoder"] == "unit_gaussian"
    assert {"dec.W_mean", "dec.b_mean"} <= model.params.keys()
    assert not {"dec.W_logvar", "dec.W_logits"} & model.params.keys()
    Z = np.random.default_rng(1).standard_normal((4, 2))
    H = np.tanh(Z @ model.params["dec.W1"] + model.params["dec.b1"])
    mean = H @ model.params["dec.W_mean"] + model.params["dec.b_mean"]
    np.testing.assert_allclose(model.decode(Z), mean, rtol=1e-12)
    X = real_data(4)
    np.testing.assert_allclose(model.log_likelihood(X, Z),
                               -0.5 * np.sum(LOG_2PI + (X - mean) ** 2, axis=1), rtol=1e-12)


def test_its_data_is_real(unit_gaussian):
    X = real_data(5)
    assert X.max() > 1 and X.min() < 0
    VAE(10, 6, 2, decoder="unit_gaussian", seed=0).elbo(X)  # accepted
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\] for the bernoulli decoder"):
        VAE(10, 6, 2, decoder="bernoulli", seed=0).elbo(X)
    with pytest.raises(ValueError, match="binarization applies to a decoder of binary data"):
        Trainer(VAE(10, 6, 2, decoder="unit_gaussian", seed=0), X, binarization="dynamic")


@pytest.mark.parametrize("estimator", ["A", "B"])
def test_it_gradient_checks(unit_gaussian, estimator):
    report = check_model_gradients("unit_gaussian", estimator, n_checks=10)
    assert report.passed, report


def test_the_fused_path_refuses_it_by_name_and_the_engine_runs_the_readable_model(unit_gaussian):
    model = VAE(10, 6, 2, decoder="unit_gaussian", seed=0)
    assert fast_path(model) is None
    with pytest.raises(ValueError, match="no kernels for the 'unit_gaussian' decoder"):
        FastPath(model)


def test_the_kinds_that_declare_fused_kernels_are_those_the_fused_path_has():
    assert {name for name, kind in decoder.DECODERS.items() if kind.fused} == set(LOGLIK_KERNELS)


def _trainer(engine, X):
    return Trainer(VAE(10, 6, 2, decoder="unit_gaussian", seed=0), X, X[:50], batch_size=20,
                   seed=1, eval_train_size=50, engine=engine)


def test_it_trains_alike_on_both_engines_and_resumes_from_a_checkpoint(unit_gaussian, tmp_path):
    X = real_data()
    whole = {engine: _trainer(engine, X) for engine in ("reference", "fused")}
    for t in whole.values():
        t.run(6000, eval_every=3000)  # 300 steps of 20 rows
    reference, fused = whole["reference"], whole["fused"]
    for name, p in reference.model.params.items():
        np.testing.assert_allclose(fused.model.params[name], p, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose([r.test_bound for r in fused.history],
                               [r.test_bound for r in reference.history], rtol=1e-9)
    assert reference.history[-1].train_bound > reference.history[0].train_bound + 1.0

    first = _trainer("reference", X)
    first.run(3000, eval_every=3000)
    checkpoint.save(tmp_path, first.model, first)
    loaded = checkpoint.load(tmp_path)
    assert loaded.model.decoder == "unit_gaussian"
    Z = np.random.default_rng(2).standard_normal((3, 2))
    np.testing.assert_array_equal(loaded.model.decode(Z), first.model.decode(Z))
    resumed = checkpoint.restore_trainer(tmp_path, X, X[:50])
    resumed.run(6000, eval_every=3000)
    for name, p in reference.model.params.items():
        np.testing.assert_array_equal(resumed.model.params[name], p)  # bit for bit


def test_wake_sleep_refuses_it_by_name(unit_gaussian):
    from minivae.baselines.wakesleep import WakeSleepTrainer
    with pytest.raises(ValueError, match="wakesleep trains the decoders bernoulli, gaussian only; "
                                         "this model's is unit_gaussian"):
        WakeSleepTrainer(VAE(10, 6, 2, decoder="unit_gaussian", seed=0), real_data())


def test_minivae_train_offers_it_and_its_checkpoint_reloads(unit_gaussian, tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["train", "--dataset", "frey", "--decoder", "unit_gaussian", "--n-hidden", "10",
                 "--n-latent", "2", "--samples", "200", "--eval-every", "100", "--out", str(out),
                 "--quiet"]) == 0
    assert checkpoint.load(out).model.decoder == "unit_gaussian"
    assert main(["evaluate", str(out), "--json"]) == 0


def test_minivae_train_refuses_a_decoder_whose_data_check_the_dataset_fails(monkeypatch, tmp_path,
                                                                             capsys):
    from minivae.experiments import presets
    real = presets.Preset("real", lambda split: real_data(100), "gaussian", 10, 2, 0.02, (2, 5))
    monkeypatch.setitem(presets.PRESETS, "real", real)
    assert main(["train", "--dataset", "real", "--decoder", "bernoulli", "--samples", "100",
                 "--out", str(tmp_path / "r")]) == 2
    assert "--decoder bernoulli does not fit --dataset real" in capsys.readouterr().err
    assert not (tmp_path / "r").exists()
