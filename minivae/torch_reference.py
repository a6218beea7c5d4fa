"""The paper's MNIST model in PyTorch, as a speed yardstick for ``minivae bench`` (optional).

PyTorch is not a dependency of minivae: this module imports it lazily and is used only when it
is installed (``pip install torch==2.13.0``). The model and its training step do the same work
as :class:`minivae.Trainer` with the fused path: a shuffled minibatch, dynamic binarization,
one reparameterized sample, estimator B, autograd, and Adagrad whose ``weight_decay = 1/N`` is
the N(0, I) weight prior per datapoint. The yardstick is PyTorch at its fastest here: its fused
Adagrad, and as many threads as BLAS has.
"""
__all__ = ["available", "torch_stepper"]


def available():
    """True when PyTorch can be imported."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


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


def torch_stepper(X, batch_size, dtype="float32", threads=None, n_hidden=500, n_latent=20,
                  lr=0.02, seed=0):
    """The 784-H-J Bernoulli VAE in PyTorch: returns ``step(k)``, which trains on the ``k``-th
    minibatch (dynamic binarization, estimator B, Adagrad with the weight prior)."""
    import torch
    if threads:
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    tdtype = getattr(torch, dtype)
    data = torch.as_tensor(X, dtype=tdtype)
    N, D = data.shape
    enc, dec = _linear(torch, D, n_hidden, tdtype, 0.01), _linear(torch, n_latent, n_hidden, tdtype, 0.01)
    mu_head, logvar_head = (_linear(torch, n_hidden, n_latent, tdtype, 0.01) for _ in range(2))
    logits_head = _linear(torch, n_hidden, D, tdtype, 0.01)
    params = [p for m in (enc, mu_head, logvar_head, dec, logits_head) for p in m.parameters()]
    opt = _adagrad(torch, params, lr=lr, eps=1e-10, weight_decay=1.0 / N)
    perm = torch.randperm(N)

    def step(k):
        start = (k * batch_size) % (N - batch_size)
        x = torch.bernoulli(data[perm[start:start + batch_size]])
        h = torch.tanh(enc(x))
        mu, logvar = mu_head(h), logvar_head(h)
        z = mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)
        logits = logits_head(torch.tanh(dec(z)))
        log_px_z = -torch.nn.functional.binary_cross_entropy_with_logits(logits, x, reduction="sum")
        kl = 0.5 * torch.sum(mu * mu + torch.expm1(logvar) - logvar)
        loss = -(log_px_z - kl) / batch_size
        opt.zero_grad(set_to_none=False)
        loss.backward()
        opt.step()

    return step
