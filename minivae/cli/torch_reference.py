"""The paper's MNIST model in PyTorch, as a speed yardstick for ``minivae bench`` (optional).

PyTorch is not a dependency of minivae: this module imports it lazily and is used only when it
is installed (``pip install torch==2.13.0``). The model and its training step do the same work
as :class:`minivae.Trainer` with the fused path: a shuffled minibatch, dynamic binarization,
one reparameterized sample, estimator B, autograd, and Adagrad whose ``weight_decay = 1/N`` is
the N(0, I) weight prior per datapoint. The yardstick is PyTorch at its fastest here: its fused
Adagrad, and as many threads as BLAS has.
"""
__all__ = ["LAYERS", "available", "describe", "torch_adagrad", "torch_layers", "torch_loss", "torch_stepper"]


def available():
    """True when PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def describe():
    """The yardstick in a few words, e.g. ``"PyTorch 2.13.0+cpu, fused Adagrad"``; ``None``
    without PyTorch."""
    if not available():
        return None
    import torch
    opt = _adagrad(torch, [torch.zeros(1, requires_grad=True)], lr=0.1)
    return f"PyTorch {torch.__version__}, {'fused' if opt.defaults.get('fused') else 'default'} Adagrad"


def _adagrad(torch, params, **settings):
    """PyTorch's fastest Adagrad: the fused one-kernel update (on the CPU since PyTorch 2.4), else
    the default loop. Same arithmetic: after 200 steps the float64 parameters of the two agree to
    6e-13; with fused, batch 100 in float32 ran at 21,000-23,000 examples/s against 14,000-17,000
    (docs/performance.md)."""
    try:
        return torch.optim.Adagrad(params, fused=True, **settings)
    except (TypeError, RuntimeError):  # a PyTorch without the fused CPU Adagrad
        return torch.optim.Adagrad(params, **settings)


def _linear(torch, n_in, n_out, dtype, std):
    layer = torch.nn.Linear(n_in, n_out).to(dtype)
    torch.nn.init.normal_(layer.weight, std=std)
    torch.nn.init.normal_(layer.bias, std=std)
    return layer


LAYERS = {"enc": ("enc", "1"), "mu": ("enc", "_mu"), "logvar": ("enc", "_logvar"),
          "dec": ("dec", "1"), "logits": ("dec", "_logits")}
"""The yardstick's layers and the :class:`minivae.VAE` parameters they hold: layer ``name`` has
weight ``W{suffix}`` (transposed: PyTorch stores ``(out, in)``) and bias ``b{suffix}`` of
``{prefix}``."""


def torch_layers(D, n_hidden, n_latent, dtype="float32", std=0.01):
    """The layers of the 784-H-J Bernoulli VAE (:data:`LAYERS`), weights and biases drawn from
    N(0, std^2) by PyTorch's generator."""
    import torch
    tdtype = getattr(torch, dtype)
    shapes = {"enc": (D, n_hidden), "mu": (n_hidden, n_latent), "logvar": (n_hidden, n_latent),
              "dec": (n_latent, n_hidden), "logits": (n_hidden, D)}
    return {name: _linear(torch, *shapes[name], tdtype, std) for name in LAYERS}


def torch_loss(layers, x, noise):
    r"""Estimator B's loss, $-\frac1M \sum_i \tilde{\mathcal L}^B(x^{(i)})$, for the binary
    minibatch ``x (M, D)`` and one draw of ``noise (M, J)``, as :meth:`minivae.VAE.loss_and_grads`
    computes it."""
    import torch
    h = torch.tanh(layers["enc"](x))
    mu, logvar = layers["mu"](h), layers["logvar"](h)
    z = mu + torch.exp(0.5 * logvar) * noise
    logits = layers["logits"](torch.tanh(layers["dec"](z)))
    log_px_z = -torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = 0.5 * torch.sum(mu * mu + torch.expm1(logvar) - logvar)
    return -(log_px_z - kl) / x.shape[0]


def torch_adagrad(layers, N, lr=0.02):
    """Adagrad over ``layers`` as :class:`minivae.Trainer` runs it: step size ``lr``, accumulator
    from 0, ``delta = 1e-10``, and the weight prior as ``weight_decay = 1/N``."""
    import torch
    params = [p for layer in layers.values() for p in layer.parameters()]
    return _adagrad(torch, params, lr=lr, eps=1e-10, weight_decay=1.0 / N)


def torch_stepper(X, batch_size, dtype="float32", threads=None, n_hidden=500, n_latent=20,
                  lr=0.02, seed=0):
    """The 784-H-J Bernoulli VAE in PyTorch: returns ``step(k)``, which trains on the ``k``-th
    minibatch (dynamic binarization, estimator B, Adagrad with the weight prior)."""
    import torch
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    data = torch.as_tensor(X, dtype=getattr(torch, dtype))
    N, D = data.shape
    layers = torch_layers(D, n_hidden, n_latent, dtype)
    opt = torch_adagrad(layers, N, lr)
    perm = torch.randperm(N)

    def step(k):
        start = (k * batch_size) % (N - batch_size)
        x = torch.bernoulli(data[perm[start:start + batch_size]])
        loss = torch_loss(layers, x, torch.randn(batch_size, n_latent, dtype=x.dtype))
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()

    return step
