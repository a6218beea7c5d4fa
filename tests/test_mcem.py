"""Monte Carlo EM: the M-step gradient vs finite differences, one step against the HMC and
Adagrad it is made of, persistent chains, step-size adaptation, learning (log p(x) by quadrature
rises), App. D evaluation, bit-identical resume and clear errors."""
import copy

import numpy as np
import pytest
from scipy.stats import norm

import minivae
from minivae.training import checkpoint
from minivae.gradcheck import check_params
from minivae.marginal.hmc import HMC
from minivae.marginal.posterior import Posterior
from minivae.marginal.quadrature import quadrature_log_px
from minivae.baselines.mcem import MCEMTrainer, decoder_params, mstep_loss_and_grads

from test_checkpoint_faults import tamper

DECODERS = ["bernoulli", "gaussian"]


def _small(decoder, seed=0):
    """A small model with parameters far from zero, a minibatch of 5 datapoints and latents."""
    rng = np.random.default_rng(seed)
    model = minivae.VAE(12, [7, 5], 3, decoder=decoder, init_std=0.3, seed=seed)
    X = rng.random((5, 12))
    return model, (X < 0.5) * 1.0 if decoder == "bernoulli" else X, rng.standard_normal((5, 3))


def _synthetic(n, J=2, D=10, seed=0):
    """Binary data drawn from a random 'true' decoder with a J-dimensional latent."""
    rng = np.random.default_rng(seed)
    truth = minivae.VAE(D, 6, J, init_std=1.5, seed=seed + 100)
    P = truth.decode(rng.standard_normal((n, J)))
    return (rng.random(P.shape) < P) * 1.0


@pytest.fixture(scope="module")
def data():
    X = _synthetic(240)
    return X[:200], X[200:]


def _trainer(data, seed=0, J=2, **kwargs):
    model = minivae.VAE(data[0].shape[1], 6, J, init_std=0.3, seed=seed)
    kwargs = {"optimizer": minivae.Adagrad(lr=0.05), "batch_size": 20, "seed": seed,
              "marginal_eval_size": 5, **kwargs}
    return MCEMTrainer(model, *data, **kwargs)


# -- the M-step ---------------------------------------------------------------------------------
@pytest.mark.parametrize("decoder", DECODERS)
def test_mstep_gradient_matches_finite_differences_for_every_decoder_tensor(decoder, budget):
    model, X, Z = _small(decoder)
    _, grads, _ = mstep_loss_and_grads(model, X, Z)
    theta = decoder_params(model)
    assert grads.keys() == theta.keys() and list(grads) == list(theta)
    report = check_params(lambda: mstep_loss_and_grads(model, X, Z)[0], theta, grads,
                          n_checks=budget(100, 20), rng=1, h=1e-3, tol=1e-6, order=4)
    assert report.passed, report


@pytest.mark.parametrize("decoder", DECODERS)
def test_mstep_loss_is_minus_mean_complete_data_log_likelihood(decoder):
    model, X, Z = _small(decoder)
    expected = model.log_likelihood(X, Z) + norm.logpdf(Z).sum(axis=1)
    loss, _, log_joint = mstep_loss_and_grads(model, X, Z)
    np.testing.assert_allclose(log_joint, expected, rtol=1e-12)
    np.testing.assert_allclose(loss, -expected.mean(), rtol=1e-12)


# -- one step is an adapting HMC transition from the stored chain, then n_updates Adagrad steps --
def test_a_step_is_hmc_from_the_stored_chains_then_adagrad_on_the_decoder(data):
    trainer = _trainer(data)
    for _ in range(12):            # past the first epoch (10 steps): chains and Adagrad state warm
        trainer.step()
    ref = copy.deepcopy(trainer)
    returned = trainer.step()

    X = ref._next_batch()
    idx = ref.perm[ref.pos - len(X):ref.pos]
    hmc = HMC(Posterior(ref.model, X), z0=ref.chain_z[idx], n_leapfrog=10,
              step_size=ref.chain_step_size[idx], target_accept=0.9, rng=ref.rng)
    hmc.step(adapt=True)
    np.testing.assert_array_equal(trainer.chain_z[idx], hmc.z)
    np.testing.assert_array_equal(trainer.chain_step_size[idx], hmc.step_size)
    theta, state = decoder_params(ref.model), ref.opt_state
    for k in range(5):
        _, grads, log_joint = mstep_loss_and_grads(ref.model, X, hmc.z)
        if k == 0:
            assert returned == float(np.mean(log_joint))
        state = ref.optimizer.update(theta, grads, state, decay=1.0 / 200)
    for name, p in ref.model.params.items():
        np.testing.assert_array_equal(trainer.model.params[name], p, err_msg=name)
    assert trainer.samples == ref.samples + 20
    assert np.array_equal(trainer.rng.bit_generator.state["state"]["state"],
                          ref.rng.bit_generator.state["state"]["state"])


def test_the_encoder_never_changes_and_the_optimizer_holds_decoder_state_only(data):
    trainer = _trainer(data)
    before = {k: p.copy() for k, p in trainer.model.params.items()}
    for _ in range(15):
        trainer.step()
    for name, p in trainer.model.params.items():
        if name.startswith("enc."):
            np.testing.assert_array_equal(p, before[name], err_msg=name)
        else:
            assert not np.array_equal(p, before[name]), name
    assert list(trainer.opt_state) == list(decoder_params(trainer.model))


def test_chains_persist_visited_rows_move_and_unvisited_rows_stay(data):
    trainer = _trainer(data)
    z0, eps0 = trainer.chain_z.copy(), trainer.chain_step_size.copy()
    trainer.step()
    idx = trainer.perm[:20]
    rest = np.setdiff1d(np.arange(200), idx)
    moved = np.any(trainer.chain_z[idx] != z0[idx], axis=1)
    assert moved.mean() > 0.5               # an HMC transition accepts most proposals
    assert np.all(trainer.chain_step_size[idx] != eps0[idx])   # adapted at every visit
    np.testing.assert_array_equal(trainer.chain_z[rest], z0[rest])
    np.testing.assert_array_equal(trainer.chain_step_size[rest], eps0[rest])
    for _ in range(9):                       # finish the epoch: every row visited once
        trainer.step()
    end_of_epoch = trainer.chain_z.copy()
    trainer.step()                           # first step of epoch 2: new permutation
    idx = trainer.perm[:20]
    rest = np.setdiff1d(np.arange(200), idx)
    np.testing.assert_array_equal(trainer.chain_z[rest], end_of_epoch[rest])
    assert np.all(np.any(end_of_epoch != z0, axis=1))


def _acceptance(model, X, Z, step_size, rng, n=40):
    """Mean acceptance per row of ``n`` non-adapting transitions at frozen parameters."""
    hmc = HMC(Posterior(model, X), z0=Z, n_leapfrog=10, step_size=step_size, rng=rng)
    return np.mean([hmc.step(adapt=False) for _ in range(n)], axis=0)


@pytest.mark.parametrize("initial_step_size", [1.5, 0.02])
def test_step_sizes_move_towards_the_target_acceptance_over_epochs(data, initial_step_size):
    trainer = _trainer(data, initial_step_size=initial_step_size, binarization="none")
    for _ in range(600):                     # 60 epochs: 60 adaptations per chain
        trainer.step()
    rows = slice(0, 100)
    X, Z = trainer.X_train[rows], trainer.chain_z[rows]
    before = _acceptance(trainer.model, X, Z, initial_step_size, np.random.default_rng(1))
    after = _acceptance(trainer.model, X, Z, trainer.chain_step_size[rows], np.random.default_rng(1))
    assert abs(after.mean() - 0.9) < 0.05
    assert abs(after.mean() - 0.9) < abs(before.mean() - 0.9) - 0.05
    assert np.mean(np.abs(after - 0.9) < np.abs(before - 0.9)) > 0.8   # row by row


# -- learning -----------------------------------------------------------------------------------
@pytest.mark.parametrize("J", [1, 2])
def test_mcem_increases_log_px_computed_by_quadrature(J):
    X = _synthetic(200, J=J, seed=J)
    trainer = _trainer((X, None), J=J, seed=J, binarization="none")
    start = quadrature_log_px(trainer.model, X, n_points=200 if J == 1 else 60, limit=6.0)
    log_joints = [trainer.step() for _ in range(400)]         # 40 epochs
    end = quadrature_log_px(trainer.model, X, n_points=200 if J == 1 else 60, limit=6.0)
    gain = end - start
    assert gain.mean() > 1.0 and gain.mean() > 5 * gain.std() / np.sqrt(len(gain))
    assert np.mean(log_joints[-50:]) > log_joints[0] + 1.0    # step() reports log p(x, z)


# -- evaluation: App. D log p(x), not the ELBO -----------------------------------------------------
def test_evaluate_records_appendix_d_log_px_without_touching_the_training_noise(data):
    from minivae.marginal.appendix_d import appendix_d_log_px
    trainer = _trainer(data, J=1, marginal_eval_size=8)
    for _ in range(30):
        trainer.step()
    rng_state = copy.deepcopy(trainer.rng.bit_generator.state)
    record = trainer.evaluate()
    assert trainer.rng.bit_generator.state == rng_state
    assert trainer.history[-1] is record and record.samples == trainer.samples
    again = trainer.evaluate()
    assert (again.train_bound, again.test_bound) == (record.train_bound, record.test_bound)
    expected = appendix_d_log_px(trainer.model, trainer._eval_train[:8],
                                 rng=np.random.default_rng([0, 3]), init="prior").log_px.mean()
    assert record.train_bound == expected
    # an estimate of log p(x) (here within App. D's error of a 1-D posterior with 8 rows x 50
    # samples), not an ELBO of the untrained encoder
    for X, value in ((trainer._eval_train[:8], record.train_bound),
                     (trainer._eval_test[:8], record.test_bound)):
        exact = quadrature_log_px(trainer.model, X, n_points=400).mean()
        assert abs(value - exact) < 0.5
        assert value != minivae.training.evaluation.mean_bound(trainer.model, X)


# -- resume -------------------------------------------------------------------------------------
def test_resumed_mcem_run_equals_an_uninterrupted_one(data, tmp_path):
    straight = _trainer(data)
    straight.run(1200, eval_every=600)
    first = _trainer(data)
    first.run(620, eval_every=600)           # stops inside an epoch, with a partial eval interval
    checkpoint.save(tmp_path, first.model, first, extra={"dataset": "synthetic"})
    resumed = checkpoint.restore_trainer(tmp_path, *data)
    assert isinstance(resumed, MCEMTrainer) and resumed.config() == first.config()
    resumed.run(1200, eval_every=600)
    for name, p in straight.model.params.items():
        np.testing.assert_array_equal(p, resumed.model.params[name], err_msg=name)
    np.testing.assert_array_equal(straight.chain_z, resumed.chain_z)
    np.testing.assert_array_equal(straight.chain_step_size, resumed.chain_step_size)
    assert resumed.opt_state.keys() == straight.opt_state.keys()
    key = lambda h: [(r.samples, r.train_bound, r.test_bound) for r in h]   # noqa: E731
    # the interrupted run evaluated once more, at 620 samples
    assert key(resumed.history) == sorted(key(straight.history) + key(first.history[-1:]))
    saved = checkpoint.load(tmp_path)
    assert saved.algorithm == "mcem" and saved.extra == {"dataset": "synthetic"}


# -- errors -------------------------------------------------------------------------------------
@pytest.mark.parametrize("kwargs, error, match", [
    ({"n_leapfrog": 0}, ValueError, "n_leapfrog"),
    ({"n_updates": 2.5}, TypeError, "n_updates"),
    ({"target_accept": 1.0}, ValueError, "target_accept"),
    ({"initial_step_size": -0.1}, ValueError, "initial_step_size"),
    ({"initial_step_size": np.inf}, ValueError, "initial_step_size"),
    ({"marginal_eval_size": 0}, ValueError, "marginal_eval_size"),
])
def test_bad_arguments_are_reported(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        _trainer(data, **kwargs)


def test_float32_models_are_refused(data):
    model = minivae.VAE(10, 6, 2, dtype="float32")
    with pytest.raises(ValueError, match="float64"):
        MCEMTrainer(model, *data)


def test_bad_checkpoints_are_reported(data, tmp_path):
    plain = minivae.Trainer(minivae.VAE(10, 6, 2), *data, batch_size=20)
    checkpoint.save(tmp_path / "a", plain.model, plain)
    with pytest.raises(ValueError, match="algorithm 'aevb', not 'mcem'"):
        checkpoint.restore_trainer(tmp_path / "a", *data, algorithm="mcem")
    trainer = _trainer(data)
    with pytest.raises(checkpoint.CheckpointError, match="extra.algorithm is 'aevb'"):
        checkpoint.save(tmp_path / "b", trainer.model, trainer, extra={"algorithm": "aevb"})
    with pytest.raises(checkpoint.CheckpointError, match="extra/chain_z is the mcem trainer's"):
        checkpoint.save(tmp_path / "b", trainer.model, trainer, arrays={"chain_z": np.zeros(2)})
    checkpoint.save(tmp_path / "b", trainer.model, trainer)
    with pytest.raises(ValueError, match="200 rows"):
        checkpoint.restore_trainer(tmp_path / "b", data[0][:100])
    trainer.chain_step_size[3] = np.nan
    with pytest.raises(checkpoint.CheckpointError, match="extra/chain_step_size holds NaN"):
        checkpoint.save(tmp_path / "b", trainer.model, trainer)   # never written


def test_chains_are_saved_in_the_checkpoint_file(data, tmp_path):
    """One file holds the chains and the rest of the run, so they are replaced as one unit."""
    trainer = _trainer(data)
    trainer.run(40, eval_every=40)
    checkpoint.save(tmp_path, trainer.model, trainer)
    assert sorted(p.name for p in tmp_path.iterdir()) == [checkpoint.FILE]
    arrays = checkpoint.load(tmp_path).arrays
    np.testing.assert_array_equal(arrays["chain_z"], trainer.chain_z)
    np.testing.assert_array_equal(arrays["chain_step_size"], trainer.chain_step_size)


@pytest.mark.parametrize("chains, field", [
    (lambda t: {"chain_z": t.chain_z[:-1], "chain_step_size": t.chain_step_size}, "chain_z"),
    (lambda t: {"chain_z": t.chain_z, "chain_step_size": t.chain_step_size * np.nan},
     "chain_step_size"),
    (lambda t: {"chain_z": t.chain_z}, "chain_step_size"),
], ids=["short chains", "NaN step sizes", "no step sizes"])
def test_damaged_chains_are_refused_naming_them(data, tmp_path, chains, field):
    trainer = _trainer(data)
    checkpoint.save(tmp_path, trainer.model, trainer)
    arrays = {f"extra/{name}": a for name, a in chains(trainer).items()}
    tamper(tmp_path, arrays=arrays, drop=[f"extra/{name}" for name in ("chain_z", "chain_step_size")
                                          if f"extra/{name}" not in arrays])
    with pytest.raises(checkpoint.CheckpointError, match=f"extra/{field}"):
        checkpoint.restore_trainer(tmp_path, *data)


@pytest.mark.filterwarnings("ignore:invalid value encountered", "ignore:overflow encountered")
def test_non_finite_parameters_stop_training_loudly(data, monkeypatch):
    trainer = _trainer(data)
    trainer.model.params["dec.b_logits"][0] = np.nan
    with pytest.raises(FloatingPointError, match="MCEM: log p"):     # caught at the E-step
        trainer.step()
    trainer = _trainer(data)
    b = trainer.model.params["dec.b_logits"]
    mstep = mstep_loss_and_grads

    def poisoned(model, X, Z):           # a parameter that overflows after the E-step
        b[0] = np.inf
        return mstep(model, X, Z)
    monkeypatch.setattr("minivae.baselines.mcem.trainer.mstep_loss_and_grads", poisoned)
    with pytest.raises(FloatingPointError, match="MCEM: non-finite M-step"):
        trainer.step()
