"""The PyTorch run of the IWAE protocol (``minivae reproduce iwae-torch``) trains the model that
``reproduce iwae`` trains: the same bound and gradients, the same start, and each of the IWAE
authors' code's choices as documented. PyTorch is optional: without it only the error message is
tested (``pip install torch==2.13.0`` runs the rest)."""
import dataclasses
import json

import numpy as np
import pytest

from minivae.cli import main
from minivae.experiments import iwae, iwae_torch
from minivae.experiments.iwae import N_LATENT
from minivae.experiments.iwae_torch import (FAST, THEIR_CHOICES, TheirAdam, start_params, to_vae,
                                            torch_bound)

D, M = 20, 7


def test_without_pytorch_the_run_says_how_to_install_it(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(iwae_torch, "available", lambda: False)
    with pytest.raises(RuntimeError, match="pip install torch"):
        iwae_torch.reproduce_iwae_torch(tmp_path, FAST)
    assert main(["reproduce", "iwae-torch", "--fast", "--out", str(tmp_path)]) == 2
    assert "pip install torch" in capsys.readouterr().err


@pytest.fixture
def case():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = (rng.random((M, D)) < 0.3).astype(np.float64)
    eps = rng.standard_normal((M, N_LATENT))
    params = {name: torch.tensor(p, requires_grad=True)
              for name, p in start_params(D, seed=2).items()}
    with torch.no_grad():  # the Glorot start has zero biases: move them so they are tested too
        for name, p in params.items():
            if p.ndim == 1:
                p.copy_(torch.from_numpy(0.1 * rng.standard_normal(p.shape)))
    return torch, params, X, eps


@pytest.mark.parametrize("choices, estimator", [((), "B"), (("sampledkl",), "A"),
                                                (("logsigma",), "B"),
                                                (("logsigma", "sampledkl"), "A")])
def test_the_pytorch_bound_and_its_gradient_are_minivaes(case, choices, estimator):
    """Estimator B (analytic KL), or with sampledkl the one-sample log weight, which is
    estimator A with L = 1; a log sigma head is the log sigma^2 head of twice its weights."""
    torch, params, X, eps = case
    bound = torch_bound(params, torch.from_numpy(X), torch.from_numpy(eps), choices)
    bound.backward()
    model = to_vae(params, choices)
    loss, grads = model.loss_and_grads(X, eps, estimator=estimator)
    assert float(bound.detach()) == pytest.approx(-loss, rel=1e-12)
    for name, p in params.items():
        chain = 2.0 if "logsigma" in choices and "_logvar" in name else 1.0  # d logvar / d head
        np.testing.assert_allclose(p.grad.numpy(), -grads[name] * chain, rtol=1e-9, atol=1e-12,
                                   err_msg=name)


def test_the_start_is_the_one_reproduce_iwae_draws():
    from minivae.experiments.glorot import glorot_uniform
    from minivae.model import VAE
    model = VAE(D, [200, 200], N_LATENT, decoder="bernoulli", activation="tanh", seed=5)
    glorot_uniform(model, np.random.default_rng([5, 4]))
    start = start_params(D, seed=5)
    assert start.keys() == model.params.keys()
    for name in start:
        np.testing.assert_array_equal(start[name], model.params[name])


def test_their_adam_steps_with_the_moments_from_before_its_gradient():
    """Their code ascends the bound with gradients g of the bound; ours gets -g, the loss's."""
    torch = pytest.importorskip("torch")
    p = torch.tensor([1.0, -2.0], dtype=torch.float64, requires_grad=True)
    opt = TheirAdam([p], lr=0.1)
    g1, g2 = np.array([0.5, -1.0]), np.array([2.0, 3.0])
    p.grad = torch.from_numpy(-g1)
    opt.step()
    np.testing.assert_array_equal(p.detach().numpy(), [1.0, -2.0])  # m starts at 0
    p.grad = torch.from_numpy(-g2)
    opt.step()
    m = 0.01 * g1                      # beta1 = 0.99
    v = 0.999 * 1.0 + 0.001 * g1 ** 2  # v starts at ones
    alpha = 0.1 * np.sqrt(1 - 0.999 ** 2) / (1 - 0.99 ** 2)  # t = 2
    np.testing.assert_allclose(p.detach().numpy(),
                               np.array([1.0, -2.0]) + alpha * m / (np.sqrt(v) + 1e-4),
                               rtol=1e-14)


def test_outbias_starts_where_reproduce_iwae_starts_with_pixel_logits():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = (rng.random((40, D)) < 0.3).astype(np.float64)
    settings = dataclasses.replace(FAST, seed=2, choices=("outbias",))
    theirs = iwae_torch._torch_params(torch, settings, X)
    ours = iwae._new_trainer(iwae.IwaeSettings(seed=2, output_bias="pixel-logits"), X, None, [])
    assert set(theirs) == set(ours.model.params)
    for name, p in ours.model.params.items():
        np.testing.assert_array_equal(theirs[name].detach().numpy(), p, err_msg=name)


def test_every_choice_is_described_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["reproduce", "iwae-torch", "--help"])
    text = capsys.readouterr().out
    for name in THEIR_CHOICES:
        assert f"  {name}: " in text


@pytest.mark.slow
def test_the_fast_run_trains_evaluates_and_a_rerun_reads_it(tmp_path, capsys):
    pytest.importorskip("torch")
    args = ["reproduce", "iwae-torch", "--fast", "--their", "adam", "outbias", "--quiet",
            "--out", str(tmp_path)]
    assert main(args) == 0
    result = json.loads((tmp_path / "iwae_torch.json").read_text())
    assert [s["stage"] for s in result["stages"]] == [0, 1]
    assert set(result["choices"]) == {"adam", "outbias"}
    first, last = result["stages"]
    assert np.isfinite(last["test_nll"]) and last["test_nll"] > 0
    assert last["test_elbo"] > first["test_elbo"]  # it trained
    assert -last["test_elbo"] >= last["test_nll"] - 1.0  # k = 20 importance sampling, not looser
    assert main(args) == 0  # finished: read from the checkpoint, nothing trained
    assert json.loads((tmp_path / "iwae_torch.json").read_text()) == result
    assert main(args[:4] + ["adam"] + args[6:]) == 2  # other choices: refused
    assert "other settings" in capsys.readouterr().err


@pytest.mark.slow
def test_a_stopped_run_resumes_to_the_same_bits(tmp_path, monkeypatch):
    """Stopped after its third pass (a kill at any later point loses at most one pass), run
    again, it ends where an uninterrupted run ends."""
    pytest.importorskip("torch")
    settings = dataclasses.replace(FAST, choices=("adam",))
    whole = iwae_torch.reproduce_iwae_torch(tmp_path / "whole", settings, quiet=True)
    saves, real_save = [], iwae_torch._save

    def save_then_stop(*args):
        real_save(*args)
        saves.append(1)
        if len(saves) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(iwae_torch, "_save", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        iwae_torch.reproduce_iwae_torch(tmp_path / "stopped", settings, quiet=True)
    assert not (tmp_path / "stopped" / "iwae_torch.json").exists()
    monkeypatch.setattr(iwae_torch, "_save", real_save)
    resumed = iwae_torch.reproduce_iwae_torch(tmp_path / "stopped", settings, quiet=True)
    for a, b in zip(whole["stages"], resumed["stages"], strict=True):
        for key in ("test_nll", "test_elbo", "active_units", "activity"):
            assert a[key] == b[key], key


@pytest.mark.slow
def test_only_last_evaluates_the_last_stage_of_the_same_training(tmp_path):
    pytest.importorskip("torch")
    every = iwae_torch.reproduce_iwae_torch(tmp_path / "every", FAST, quiet=True)
    last = iwae_torch.reproduce_iwae_torch(
        tmp_path / "last", dataclasses.replace(FAST, only_last=True), quiet=True)
    assert [s["stage"] for s in last["stages"]] == [FAST.n_stages - 1]
    assert last["stages"][0]["test_nll"] == every["stages"][-1]["test_nll"]
    assert last["stages"][0]["test_elbo"] == every["stages"][-1]["test_elbo"]
