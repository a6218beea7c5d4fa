r"""Hamiltonian Monte Carlo (HMC) with an identity mass matrix, one independent chain per row.

The paper samples the posterior $p_\theta(z|x)$ with HMC for the App. D estimator and for MCEM
(App. E: 4 or 10 leapfrog steps, the step size tuned to an acceptance rate of 90%). To sample a
density $\pi(z) \propto \exp(\log\pi(z))$, $z \in \mathbb R^J$, HMC adds a momentum $p \sim \mathcal N(0, I)$
and simulates the Hamiltonian

$$H(z, p) = -\log\pi(z) + \tfrac12\|p\|^2$$

with the **leapfrog** integrator of step size $\varepsilon$ (:func:`leapfrog`),

$$p \leftarrow p + \tfrac\varepsilon2 \nabla\log\pi(z), \quad z \leftarrow z + \varepsilon p, \quad
p \leftarrow p + \tfrac\varepsilon2 \nabla\log\pi(z),$$

repeated ``n_leapfrog`` times (the inner half steps merged). The map is volume-preserving and
reversible (negate $p$ and it retraces its path), and conserves $H$ up to $O(\varepsilon^2)$, so the
**Metropolis** correction (:func:`hmc_step`)

$$\text{accept } (z', p') \text{ with probability } \min\left(1,\ e^{H(z, p) - H(z', p')}\right)$$

makes $\pi$ exactly invariant, whatever $\varepsilon$. A non-finite $H(z', p')$ (a diverging
trajectory) is a rejection; a rejected chain keeps its state.

**Step-size adaptation** (:meth:`HMC.step` with ``adapt=True``). Each row $i$ has its own
$\varepsilon_i$, tuned by a Robbins-Monro recursion on $\log\varepsilon_i$ towards the target
acceptance rate $\alpha^*$:

$$\log\varepsilon_i \leftarrow \log\varepsilon_i + \gamma_t\,(a_i - \alpha^*), \qquad
\gamma_t = \frac{\gamma_0}{\sqrt{1 + t/t_0}},$$

where $a_i$ is the row's acceptance probability in the transition just made and $t$ counts the
adapting transitions of this sampler. A too-large step lowers the acceptance and is shrunk, a
too-small one is grown; $\varepsilon_i$ is kept in ``[STEP_SIZE_MIN, STEP_SIZE_MAX]``. Adapting
makes the chain depend on its own history, so only :meth:`HMC.warm_up` adapts; :meth:`HMC.sample`
keeps the step sizes fixed and is a valid Markov chain with invariant distribution $\pi$.
The gain starts at $\gamma_0 = 1$: from a step size that is far too small the acceptance is
near 1 and each update adds only $\gamma_t (1 - \alpha^*) \approx 0.1$ to $\log\varepsilon_i$,
so a start 100x too small needs about 100 adapting transitions (one 100x too large, under 25).
A sampler rebuilt from stored step sizes (MCEM) restarts at $t = 0$ unless ``n_adapted`` is
restored too.

At a fixed ``n_leapfrog`` the acceptance need not fall monotonically as $\varepsilon$ grows (a
trajectory close to a full oscillation of a Gaussian conserves $H$ well), so rows with the same
target can settle at somewhat different step sizes; it is their acceptance that is tuned.

**Targets.** A target is any callable ``Z (M, J) -> (log_pi (M,), grad (M, J))`` whose row $i$
depends on ``Z[i]`` alone, e.g. :class:`~minivae.marginal.posterior.Posterior`; it is evaluated
once per leapfrog step.
"""
import numpy as np

from ..validation import as_float_array, check_open_unit, check_positive_int

__all__ = ["STEP_SIZE_MIN", "STEP_SIZE_MAX", "leapfrog", "hmc_step", "HMC"]

STEP_SIZE_MIN = 1e-6
STEP_SIZE_MAX = 10.0


# -- input checks --------------------------------------------------------------------------------
def _check_z(z, name="z"):
    z = as_float_array(name, z)
    if z.ndim != 2 or z.shape[0] == 0 or z.shape[1] == 0:
        raise ValueError(f"{name} must be a non-empty 2-D array (M, J), got shape {z.shape}")
    return z


def _check_step_size(step_size, M):
    """``step_size``, a positive finite scalar or ``(M,)`` array, as a new ``(M,)`` float array."""
    eps = np.asarray(step_size, dtype=np.float64)
    if eps.ndim > 1 or (eps.ndim == 1 and eps.shape != (M,)):
        raise ValueError(f"step_size must be a scalar or have shape (M,) = ({M},), got {eps.shape}")
    if not np.all(np.isfinite(eps) & (eps > 0)):
        raise ValueError(f"step_size must be positive and finite, got {step_size!r}")
    return np.broadcast_to(eps, (M,)).copy()


def _evaluate(target, z):
    """``target(z)``, checked for shapes ``(M,)`` and ``(M, J)``."""
    log_p, grad = target(z)
    log_p, grad = np.asarray(log_p, dtype=np.float64), np.asarray(grad, dtype=np.float64)
    if log_p.shape != z.shape[:1] or grad.shape != z.shape:
        raise ValueError(f"target must map Z {z.shape} to (log_p {z.shape[:1]}, grad {z.shape}), "
                         f"got {log_p.shape} and {grad.shape}")
    return log_p, grad


def _as_column(step_size):
    """A scalar or ``(M,)`` step size, shaped to broadcast against ``(M, J)``."""
    eps = np.asarray(step_size, dtype=np.float64)
    return eps[:, None] if eps.ndim == 1 else eps


# -- the integrator and the transition -----------------------------------------------------------
def leapfrog(target, z, p, step_size, n_leapfrog, grad):
    r"""``n_leapfrog`` leapfrog steps of $H(z, p) = -\log\pi(z) + \tfrac12\|p\|^2$ for every row.

    Parameters
    ----------
    target : callable ``Z (M, J) -> (log_pi (M,), grad (M, J))``
    z, p : ndarray (M, J), position and momentum
    step_size : float or ndarray (M,), $\varepsilon$ (per row)
    n_leapfrog : int >= 1
    grad : ndarray (M, J), $\nabla\log\pi(z)$ at the starting ``z`` (the caller has it already)

    Returns
    -------
    z_new, p_new : ndarray (M, J), the end of the trajectory
    log_joint_new : ndarray (M,), $\log\pi$ at ``z_new``
    grad_new : ndarray (M, J), $\nabla\log\pi$ at ``z_new``

    Non-finite values are propagated, not raised: :func:`hmc_step` rejects such rows.
    """
    n_leapfrog = check_positive_int("n_leapfrog", n_leapfrog)
    eps = _as_column(step_size)
    p = p + 0.5 * eps * grad
    for step in range(n_leapfrog):
        z = z + eps * p
        log_joint, grad = _evaluate(target, z)
        p = p + (eps if step < n_leapfrog - 1 else 0.5 * eps) * grad
    return z, p, log_joint, grad


def hmc_step(target, z, log_joint, grad, step_size, n_leapfrog, rng):
    r"""One HMC transition for every row: fresh momentum, a leapfrog trajectory, Metropolis.

    $p \sim \mathcal N(0, I)$; $(z', p') =$ :func:`leapfrog` $(z, p)$; row $i$ moves to $z'_i$ with
    probability $\min(1, \exp(H(z_i, p_i) - H(z'_i, p'_i)))$ and otherwise keeps $z_i$. A
    non-finite $H(z'_i, p'_i)$ has acceptance probability 0.

    Parameters
    ----------
    target : callable ``Z (M, J) -> (log_pi (M,), grad (M, J))``
    z : ndarray (M, J), the current states
    log_joint, grad : ndarray (M,) and (M, J), $\log\pi$ and its gradient at ``z``
    step_size : float or ndarray (M,)
    n_leapfrog : int >= 1
    rng : numpy.random.Generator, for the momenta and the accept/reject draws

    Returns
    -------
    z, log_joint, grad : the new states (new arrays; rejected rows hold their old values)
    accept_prob : ndarray (M,), the Metropolis acceptance probability of every row
    """
    z = _check_z(z)
    M = z.shape[0]
    if np.shape(log_joint) != (M,) or np.shape(grad) != z.shape:
        raise ValueError(f"log_joint and grad must have shapes ({M},) and {z.shape}, "
                         f"got {np.shape(log_joint)} and {np.shape(grad)}")
    _check_step_size(step_size, M)
    p = rng.standard_normal(z.shape)
    with np.errstate(over="ignore", invalid="ignore"):
        z_new, p_new, log_joint_new, grad_new = leapfrog(target, z, p, step_size, n_leapfrog, grad)
        H_old = -log_joint + 0.5 * np.sum(p * p, axis=1)
        H_new = -log_joint_new + 0.5 * np.sum(p_new * p_new, axis=1)
        log_ratio = H_old - H_new
        finite = np.isfinite(H_new) & ~np.isnan(log_ratio)
        accept_prob = np.where(finite, np.exp(np.minimum(0.0, np.where(finite, log_ratio, 0.0))),
                               0.0)
    accept = rng.random(M) < accept_prob
    return (np.where(accept[:, None], z_new, z), np.where(accept, log_joint_new, log_joint),
            np.where(accept[:, None], grad_new, grad), accept_prob)


# -- the sampler -----------------------------------------------------------------------------------
class HMC:
    r"""Independent HMC chains, one per row, with per-row step sizes tuned to an acceptance rate.

    Parameters
    ----------
    target : callable ``Z (M, J) -> (log_pi (M,), grad (M, J))``, e.g. a
        :class:`~minivae.marginal.posterior.Posterior`
    z0 : array_like (M, J), the starting states; ``target`` must be finite there
    n_leapfrog : int, leapfrog steps per transition (paper: 4 for App. D, 10 for MCEM)
    step_size : float or array_like (M,), the initial step sizes $\varepsilon_i > 0$
    target_accept : float in (0, 1), the acceptance rate the adaptation aims at (paper: 0.9)
    rng : numpy.random.Generator, int or None
    adapt_rate, adapt_scale : $\gamma_0$ and $t_0$ of the adaptation's gain
        $\gamma_t = \gamma_0 / \sqrt{1 + t/t_0}$

    Attributes
    ----------
    z : ndarray (M, J), the chains' current states
    log_joint, grad : ndarray (M,) and (M, J), the target and its gradient at ``z``; after
        changing the target (a parameter update) call :meth:`refresh`
    step_size : ndarray (M,), settable with a scalar or an ``(M,)`` array
    acceptance : ndarray (M,) or None, each row's mean acceptance probability in the last
        :meth:`sample`
    n_adapted : int, the adapting transitions made so far ($t$)

    Examples
    --------
    >>> import numpy as np
    >>> def std_normal(Z):
    ...     return -0.5 * np.sum(Z * Z, axis=1), -Z
    >>> hmc = HMC(std_normal, np.zeros((500, 2)), rng=0)
    >>> _ = hmc.warm_up(100)
    >>> Z = hmc.sample(50)
    >>> Z.shape, bool(abs(hmc.acceptance.mean() - 0.9) < 0.05)
    ((50, 500, 2), True)
    """

    def __init__(self, target, z0, n_leapfrog=4, step_size=0.1, target_accept=0.9, rng=None,
                 adapt_rate=1.0, adapt_scale=20.0):
        self.target = target
        self.z = _check_z(z0, "z0").copy()
        self.n_leapfrog = check_positive_int("n_leapfrog", n_leapfrog)
        self.step_size = step_size
        self.target_accept = check_open_unit("target_accept", target_accept)
        if not (np.isfinite(adapt_rate) and adapt_rate > 0 and np.isfinite(adapt_scale)
                and adapt_scale > 0):
            raise ValueError(f"adapt_rate and adapt_scale must be positive and finite, "
                             f"got {adapt_rate} and {adapt_scale}")
        self.adapt_rate, self.adapt_scale = float(adapt_rate), float(adapt_scale)
        self.rng = np.random.default_rng(rng)
        self.n_adapted = 0
        self.acceptance = None
        self.refresh()

    @property
    def M(self):
        """The number of chains (rows)."""
        return self.z.shape[0]

    @property
    def step_size(self):
        r"""The per-row step sizes $\varepsilon_i$, ndarray (M,)."""
        return self._step_size

    @step_size.setter
    def step_size(self, value):
        self._step_size = _check_step_size(value, self.M)

    def __repr__(self):
        return (f"HMC(M={self.M}, J={self.z.shape[1]}, n_leapfrog={self.n_leapfrog}, "
                f"target_accept={self.target_accept})")

    def refresh(self):
        """Recompute ``log_joint`` and ``grad`` at the current ``z`` (after the target changed).

        Raises ``ValueError`` if the target is not finite at some row of ``z``.
        """
        self.z = _check_z(self.z)
        log_joint, grad = _evaluate(self.target, self.z)
        bad = ~(np.isfinite(log_joint) & np.all(np.isfinite(grad), axis=1))
        if bad.any():
            raise ValueError(f"the target is not finite at the current z of rows "
                             f"{np.flatnonzero(bad)[:10].tolist()}: start the chains elsewhere")
        self.log_joint, self.grad = log_joint, grad

    def step(self, adapt=False):
        r"""One transition of every chain; with ``adapt``, one Robbins-Monro update of each row's
        $\log\varepsilon_i$ towards ``target_accept``.

        Returns
        -------
        accept_prob : ndarray (M,)
        """
        self.z, self.log_joint, self.grad, accept_prob = hmc_step(
            self.target, self.z, self.log_joint, self.grad, self.step_size, self.n_leapfrog,
            self.rng)
        if adapt:
            gain = self.adapt_rate / np.sqrt(1.0 + self.n_adapted / self.adapt_scale)
            log_eps = np.log(self.step_size) + gain * (accept_prob - self.target_accept)
            self.step_size = np.clip(np.exp(log_eps), STEP_SIZE_MIN, STEP_SIZE_MAX)
            self.n_adapted += 1
        return accept_prob

    def warm_up(self, n_steps):
        """``n_steps`` adapting transitions (burn-in and step-size tuning).

        Returns
        -------
        acceptance : ndarray (M,), each row's mean acceptance probability over the last half of
            the warm-up (``.mean()`` for one number)
        """
        n_steps = check_positive_int("n_steps", n_steps)
        total = np.zeros(self.M)
        for t in range(n_steps):
            accept_prob = self.step(adapt=True)
            if t >= n_steps // 2:
                total += accept_prob
        return total / (n_steps - n_steps // 2)

    def sample(self, n_samples, thin=1):
        """``n_samples`` draws from the chains with fixed step sizes, ``thin`` transitions apart.

        Returns
        -------
        Z : ndarray (n_samples, M, J), ``Z[s, i]`` the ``s``-th draw of row ``i``'s chain (taken
            after ``thin`` transitions each)

        Sets ``self.acceptance``: ndarray (M,), the mean acceptance probability over all
        ``n_samples * thin`` transitions.
        """
        n_samples = check_positive_int("n_samples", n_samples)
        thin = check_positive_int("thin", thin)
        Z = np.empty((n_samples, *self.z.shape))
        total = np.zeros(self.M)
        for s in range(n_samples):
            for _ in range(thin):
                total += self.step(adapt=False)
            Z[s] = self.z
        self.acceptance = total / (n_samples * thin)
        return Z
