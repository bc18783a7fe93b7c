"""The degenerate preset ``mmn_abandonment`` (an M/M/n+M queue) against Erlang A and Erlang C.

The preset has one team of ``n`` workers online around the clock, one chat per worker,
exponential service (rate ``mu``) and exponential patience in queue (rate ``theta``); arrivals
are Poisson with rate ``lambda``. Its steady state therefore has closed forms: Erlang A
(Mandelbaum and Zeltyn) with abandonment, and Erlang C without it (``patience.queue_mean_s``
at its maximum, 1e7 s, i.e. ``theta`` = 3.6e-4 per hour, which changes P(abandon) by about
1e-5 and the other figures by far less than the sampling error).

What is compared, over arrivals after a warm-up of ``WARMUP_H`` hours (the system starts empty)
and before the last ``COOLDOWN_H`` hours (when the last shift ends, the workers go offline and
customers still queued are never served):

* P(wait > 0): the share of arrivals with ``queue_wait_s > 0``;
* P(abandon): the share of arrivals with ``abandoned``;
* mean wait: the mean of ``queue_wait_s`` over all arrivals, abandoners included (their time
  until abandoning), which is E[W] of Erlang A and E[Wq] of Erlang C.

Tolerance (from the issue): a figure passes if ``|sim - exact| <= max(0.02 * |exact|, 3 * se)``,
where ``se`` is the batch-means standard error: the kept arrivals are split by arrival time
into ``N_BATCHES`` equal windows (consecutive waits are correlated, so the per-customer
standard error would be far too small). Every simulation uses the fixed seed ``SEED`` (the
same for all points, so their sampling errors are correlated); the horizons
(``experiment.days_pre``) are chosen so the whole module runs in under a minute on one core
(about 30 s of CPU). Across 14 other seeds the checks had z-scores of sd about 1.1-1.3 and no
systematic bias; one seed in about a dozen fails one check at the 3 se level, which is the
expected rate of the issue's tolerance, so a change of random streams may need a look.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest
from scipy import special

from hitl_env import load_config, simulate

SEED = 20240611
WARMUP_H = 12.0
COOLDOWN_H = 2.0
N_BATCHES = 25
REL_TOL = 0.02
N_SE = 3.0
HOUR_S = 3600.0
DAY_S = 86_400.0
MAX_PATIENCE_S = 1e7  # the upper end of the range of patience.queue_mean_s (hitl_env/config.py)


# ----------------------------------------------------------------------------- closed forms
def erlang_b(n: int, a: float) -> float:
    """Erlang B blocking probability: B_0 = 1, B_k = a B_{k-1} / (k + a B_{k-1})."""
    b = 1.0
    for k in range(1, n + 1):
        b = a * b / (k + a * b)
    return b


def erlang_c(n: int, lam: float, mu: float) -> tuple[float, float]:
    """M/M/n: ``(P(wait > 0), E[Wq])``, E[Wq] in the time unit of the rates.

    C = B / (1 - rho (1 - B)) with B = Erlang B(n, a), a = lam / mu, rho = a / n < 1;
    E[Wq] = C / (n mu - lam).
    """
    a = lam / mu
    rho = a / n
    if rho >= 1:
        raise ValueError(f"Erlang C needs rho < 1, got {rho}")
    b = erlang_b(n, a)
    c = b / (1.0 - rho * (1.0 - b))
    return c, c / (n * mu - lam)


def erlang_a_big_a(x: float, y: float) -> float:
    """A(x, y) = x e^y y^(-x) gamma_lower(x, y), computed in logs.

    gamma_lower(x, y) = gammainc(x, y) * Gamma(x) (gammainc is scipy's regularized one).
    """
    p = special.gammainc(x, y)
    if not p > 0:
        raise ValueError(f"gammainc({x}, {y}) underflows; theta is too small for this formula")
    return math.exp(math.log(x) + y - x * math.log(y) + math.log(p) + special.gammaln(x))


def erlang_a(n: int, lam: float, mu: float, theta: float) -> tuple[float, float, float]:
    """M/M/n+M (Mandelbaum and Zeltyn): ``(P(wait > 0), P(abandon), E[W])``.

    x = n mu / theta, y = lam / theta, A = x e^y y^(-x) gamma_lower(x, y), B = Erlang B(n, a);
    P(wait > 0) = A B / (1 + (A - 1) B); P(abandon | wait > 0) = 1 / (rho A) + 1 - 1 / rho;
    P(abandon) = P(abandon | wait > 0) P(wait > 0); E[W] = P(abandon) / theta, the mean time in
    queue over all arrivals (abandoners until they abandon). Any rho > 0 is allowed.
    """
    a = lam / mu
    rho = a / n
    big_a = erlang_a_big_a(n * mu / theta, lam / theta)
    b = erlang_b(n, a)
    p_wait = big_a * b / (1.0 + (big_a - 1.0) * b)
    p_abandon = (1.0 / (rho * big_a) + 1.0 - 1.0 / rho) * p_wait
    return p_wait, p_abandon, p_abandon / theta


# ----------------------------------------------------------------------------- closed-form unit tests
def test_erlang_c_textbook_value() -> None:
    """a = 10 Erlang on n = 11 servers: P(wait) = 0.6821 (the usual call-centre textbook example).

    Also checked against the direct formula C = (a^n/n! n/(n-a)) / (sum_{k<n} a^k/k! + a^n/n! n/(n-a))
    in exact rational arithmetic, and E[Wq] = C / (n mu - lam) with mu = 1.
    """
    a, n = 10, 11
    head = sum(Fraction(a**k, math.factorial(k)) for k in range(n))
    tail = Fraction(a**n, math.factorial(n)) * Fraction(n, n - a)
    exact = float(tail / (head + tail))
    c, wq = erlang_c(n, lam=float(a), mu=1.0)
    assert round(c, 4) == 0.6821
    assert c == pytest.approx(exact, rel=1e-12)
    assert wq == pytest.approx(exact / (n - a), rel=1e-12)


def test_erlang_b_recursion_matches_direct_formula() -> None:
    """B(n, a) = (a^n / n!) / sum_{k<=n} a^k / k!, exactly, for a few (n, a)."""
    for n, a in [(1, 1), (5, 3), (10, 9), (20, 19)]:
        terms = [Fraction(a**k, math.factorial(k)) for k in range(n + 1)]
        assert erlang_b(n, float(a)) == pytest.approx(float(terms[-1] / sum(terms)), rel=1e-12)


def _birth_death(n: int, lam: float, mu: float, theta: float, states: int = 4000) -> tuple[float, float, float]:
    """Erlang A figures from the truncated birth-death chain (independent of the closed form).

    Death rate in state k is min(k, n) mu + max(k - n, 0) theta. By PASTA, P(wait > 0) = P(K >= n);
    abandonments happen at rate theta E[(K - n)+], so P(abandon) = theta E[(K - n)+] / lam, and by
    Little's law E[W] = E[(K - n)+] / lam.
    """
    k = np.arange(1, states)
    death = np.minimum(k, n) * mu + np.maximum(k - n, 0) * theta
    logp = np.concatenate([[0.0], np.cumsum(np.log(lam / death))])
    p = np.exp(logp - logp.max())
    p /= p.sum()
    queued = np.maximum(np.arange(states) - n, 0) @ p
    return float(p[n:].sum()), theta * queued / lam, queued / lam


@pytest.mark.parametrize(
    ("n", "lam", "mu", "theta"),
    [(10, 108.0, 12.0, 12.0), (5, 24.0, 6.0, 6.0), (20, 235.2, 12.0, 2.0), (10, 144.0, 12.0, 12.0), (1, 2.0, 3.0, 0.5)],
)
def test_erlang_a_matches_birth_death_chain(n: int, lam: float, mu: float, theta: float) -> None:
    """The Erlang A closed form agrees with the birth-death chain to 1e-9 relative."""
    for closed, chain in zip(erlang_a(n, lam, mu, theta), _birth_death(n, lam, mu, theta), strict=True):
        assert closed == pytest.approx(chain, rel=1e-9)


def test_erlang_a_tends_to_erlang_c() -> None:
    """As theta -> 0 (rho = 0.9), Erlang A's P(wait) and E[W] approach Erlang C's, the gap shrinking ~ theta."""
    n, lam, mu = 10, 108.0, 12.0
    c, wq = erlang_c(n, lam, mu)
    gaps = []
    for theta in (1e-2 * mu, 1e-3 * mu, 1e-4 * mu):
        p_wait, p_abandon, w = erlang_a(n, lam, mu, theta)
        assert p_abandon < theta * wq
        gaps.append(max(abs(p_wait / c - 1.0), abs(w / wq - 1.0)))
    assert gaps[0] > gaps[1] > gaps[2]
    assert gaps[2] < 3e-3


# ----------------------------------------------------------------------------- simulation checks
@dataclass(frozen=True)
class Point:
    """One M/M/n(+M) parameter point; rates per hour, ``theta=None`` for no abandonment (Erlang C)."""

    name: str
    n: int
    lam: float
    mu: float
    theta: float | None
    days: int

    @property
    def rho(self) -> float:
        return self.lam / (self.n * self.mu)

    def overrides(self) -> dict[str, object]:
        """Overrides of ``mmn_abandonment`` as documented in ``configs/mmn_abandonment.yaml``."""
        patience = MAX_PATIENCE_S if self.theta is None else HOUR_S / self.theta
        return {
            "experiment.workers": self.n,
            "experiment.team_size": self.n,
            "experiment.days_pre": self.days,
            "experiment.days_post": 0,
            "arrivals.rate_per_worker_hour": self.lam / self.n,
            "service.rate_per_hour": self.mu,
            "patience.queue_mean_s": patience,
        }


ERLANG_A_POINTS = [
    Point("A-n10-rho0.90", n=10, lam=108.0, mu=12.0, theta=12.0, days=60),
    Point("A-n5-rho0.80", n=5, lam=24.0, mu=6.0, theta=6.0, days=400),
    Point("A-n20-rho0.98", n=20, lam=235.2, mu=12.0, theta=2.0, days=60),
    Point("A-n10-rho1.20", n=10, lam=144.0, mu=12.0, theta=12.0, days=30),
]
ERLANG_C_POINTS = [
    Point("C-n5-rho0.70", n=5, lam=42.0, mu=12.0, theta=None, days=200),
    Point("C-n10-rho0.90", n=10, lam=108.0, mu=12.0, theta=None, days=150),
    Point("C-n20-rho0.95", n=20, lam=228.0, mu=12.0, theta=None, days=120),
]


def batch_means(t: np.ndarray, x: np.ndarray, lo: float, hi: float, n_batches: int) -> tuple[float, float]:
    """Mean of ``x`` over arrivals ``lo <= t < hi`` and its batch-means standard error.

    The window is cut into ``n_batches`` equal time slices; the standard error is the standard
    deviation of the slice means over sqrt(n_batches).
    """
    keep = (t >= lo) & (t < hi)
    batch = np.minimum(((t[keep] - lo) / (hi - lo) * n_batches).astype(np.int64), n_batches - 1)
    sums = np.bincount(batch, weights=x[keep].astype(float), minlength=n_batches)
    counts = np.bincount(batch, minlength=n_batches)
    assert counts.min() > 0
    means = sums / counts
    return float(x[keep].mean()), float(means.std(ddof=1) / math.sqrt(n_batches))


def simulated_figures(point: Point) -> dict[str, tuple[float, float]]:
    """Simulate ``point`` with ``SEED``; ``{figure: (mean, batch-means se)}``, waits in hours."""
    df = simulate(load_config("mmn_abandonment", point.overrides()), seed=SEED)
    t = df["arrival_s"].to_numpy()
    queue_wait = df["queue_wait_s"].to_numpy()
    assert np.isfinite(queue_wait).all()
    lo, hi = WARMUP_H * HOUR_S, point.days * DAY_S - COOLDOWN_H * HOUR_S
    return {
        "P(wait>0)": batch_means(t, queue_wait > 0, lo, hi, N_BATCHES),
        "P(abandon)": batch_means(t, df["abandoned"].to_numpy(), lo, hi, N_BATCHES),
        "mean wait (h)": batch_means(t, queue_wait / HOUR_S, lo, hi, N_BATCHES),
    }


def _compare(point: Point, sim: dict[str, tuple[float, float]], exact: dict[str, float]) -> None:
    """Assert every figure in ``exact`` is within ``max(REL_TOL * |exact|, N_SE * se)``."""
    lines, failed = [], False
    for name, value in exact.items():
        mean, se = sim[name]
        tol = max(REL_TOL * abs(value), N_SE * se)
        ok = abs(mean - value) <= tol
        failed |= not ok
        lines.append(
            f"{name}: sim {mean:.6g} +- {se:.2g} (se), exact {value:.6g}, "
            f"rel {mean / value - 1:+.2%}, tol {tol:.2g} {'ok' if ok else 'FAIL'}"
        )
    assert not failed, f"{point.name} (rho={point.rho:.3f}, {point.days} days, seed {SEED}):\n" + "\n".join(lines)


@pytest.mark.parametrize("point", ERLANG_A_POINTS, ids=lambda p: p.name)
def test_matches_erlang_a(point: Point) -> None:
    """P(wait > 0), P(abandon) and the mean wait match Erlang A (seed ``SEED``; 2% or 3 se)."""
    assert point.theta is not None
    p_wait, p_abandon, w = erlang_a(point.n, point.lam, point.mu, point.theta)
    _compare(point, simulated_figures(point), {"P(wait>0)": p_wait, "P(abandon)": p_abandon, "mean wait (h)": w})


@pytest.mark.parametrize("point", ERLANG_C_POINTS, ids=lambda p: p.name)
def test_matches_erlang_c(point: Point) -> None:
    """Without abandonment (patience mean 1e7 s), P(wait > 0) and the mean wait match Erlang C.

    Seed ``SEED``; tolerance 2% or 3 se. The residual abandonment share (theta = 3.6e-4 per hour,
    so about theta * E[Wq] ~ 1e-5) must stay below 1e-3.
    """
    p_wait, wq = erlang_c(point.n, point.lam, point.mu)
    sim = simulated_figures(point)
    assert sim["P(abandon)"][0] < 1e-3
    _compare(point, sim, {"P(wait>0)": p_wait, "mean wait (h)": wq})


def test_wait_columns_agree() -> None:
    """In the M/M/n preset the first reply comes at assignment: served chats have wait_s == queue_wait_s,
    abandoned ones never get a reply (seed ``SEED``, two days of the default point)."""
    df = simulate(load_config("mmn_abandonment", {"experiment.days_pre": 2}), seed=SEED)
    served = ~df["abandoned"].to_numpy()
    assert served.sum() > 1000 and (~served).sum() > 10
    np.testing.assert_allclose(df["wait_s"].to_numpy()[served], df["queue_wait_s"].to_numpy()[served], atol=1e-6)
    assert df["wait_s"][~served].isna().all()
