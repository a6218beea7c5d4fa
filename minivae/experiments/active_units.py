r"""Active latent units (Burda, Grosse & Salakhutdinov 2016, Sec. 5.2).

A latent unit $u$ is *active* when $A_u = \mathrm{Cov}_x\big(\mathbb E_{u \sim q(u|x)}[u]\big)
> 10^{-2}$: its posterior mean moves with the data. For a Gaussian $q_\phi(z|x)$ the inner
expectation is the encoder's mean $\mu_\phi(x)$, so $A_u$ is the variance of $\mu_{\phi,u}(x)$
over the datapoints. An inactive unit's posterior stays at the prior for every $x$, and the
decoder ignores it.
"""
import numpy as np

__all__ = ["ACTIVE_THRESHOLD", "latent_activity", "count_active"]

ACTIVE_THRESHOLD = 1e-2
"""The paper's threshold on $A_u$."""


def latent_activity(model, X, batch_size=1000):
    r"""$A_u$ for every latent unit: the variance over the rows of ``X`` of the encoder's means,
    ``(J,)`` float64 (the population variance, dividing by the number of rows)."""
    mu = np.concatenate([model.encode(X[s:s + batch_size])[0]
                         for s in range(0, len(X), batch_size)])
    return np.var(mu.astype(np.float64), axis=0)


def count_active(activity, threshold=ACTIVE_THRESHOLD):
    """How many units have an activity above ``threshold``."""
    return int(np.sum(np.asarray(activity) > threshold))
