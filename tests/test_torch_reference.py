"""The PyTorch yardstick of ``minivae bench`` does the work of the model it is compared with:
the same loss, the same gradients and the same Adagrad step. PyTorch is optional; without it
these tests are skipped (``pip install torch==2.13.0`` runs them)."""
import numpy as np
import pytest

from minivae import VAE
from minivae.optim import Adagrad
from minivae.cli.torch_reference import LAYERS, describe, torch_adagrad, torch_layers, torch_loss

torch = pytest.importorskip("torch")

D, H, J, M, N = 12, 7, 3, 9, 600


@pytest.fixture
def pair():
    """A float64 minivae VAE and the yardstick's layers holding the same parameters."""
    model = VAE(D, H, J, seed=3, dtype="float64")
    layers = torch_layers(D, H, J, "float64")
    with torch.no_grad():
        for name, (prefix, suffix) in LAYERS.items():
            layers[name].weight.copy_(torch.from_numpy(model.params[f"{prefix}.W{suffix}"].T))
            layers[name].bias.copy_(torch.from_numpy(model.params[f"{prefix}.b{suffix}"]))
    rng = np.random.default_rng(0)
    X = (rng.random((M, D)) < 0.3).astype(np.float64)
    eps = rng.standard_normal((M, J))
    return model, layers, X, eps


def _torch_grads(layers, X, eps):
    for layer in layers.values():
        layer.zero_grad(set_to_none=False)
    loss = torch_loss(layers, torch.from_numpy(X), torch.from_numpy(eps))
    loss.backward()
    return float(loss.detach())


def test_the_yardstick_has_the_models_loss_and_gradients(pair):
    model, layers, X, eps = pair
    loss, grads = model.loss_and_grads(X, eps, "B")
    assert _torch_grads(layers, X, eps) == pytest.approx(loss, rel=1e-12)
    for name, (prefix, suffix) in LAYERS.items():
        np.testing.assert_allclose(layers[name].weight.grad.numpy().T, grads[f"{prefix}.W{suffix}"],
                                   rtol=1e-10, atol=1e-14, err_msg=name)
        np.testing.assert_allclose(layers[name].bias.grad.numpy(), grads[f"{prefix}.b{suffix}"],
                                   rtol=1e-10, atol=1e-14, err_msg=name)


def test_the_yardsticks_adagrad_takes_the_trainers_steps(pair):
    model, layers, X, eps = pair
    optimizer, opt_state = Adagrad(lr=0.02), None
    torch_opt = torch_adagrad(layers, N, lr=0.02)
    rng = np.random.default_rng(1)
    for _ in range(3):
        X = (rng.random((M, D)) < 0.3).astype(np.float64)
        eps = rng.standard_normal((M, J))
        _, grads = model.loss_and_grads(X, eps, "B")
        opt_state = optimizer.update(model.params, grads, opt_state, decay=1.0 / N)
        _torch_grads(layers, X, eps)
        torch_opt.step()
    for name, (prefix, suffix) in LAYERS.items():
        np.testing.assert_allclose(layers[name].weight.detach().numpy().T,
                                   model.params[f"{prefix}.W{suffix}"], rtol=1e-10, err_msg=name)
        np.testing.assert_allclose(layers[name].bias.detach().numpy(),
                                   model.params[f"{prefix}.b{suffix}"], rtol=1e-10, err_msg=name)


def test_the_yardstick_says_which_adagrad_it_runs():
    assert describe() == f"PyTorch {torch.__version__}, fused Adagrad"  # PyTorch >= 2.4 has it
