"""Customer lifetime value: BG/NBD for how often customers buy and whether they are still
"alive", Gamma-Gamma for how much they spend (Fader, Hardie and Lee 2005; Fader and Hardie 2013).

Time is in weeks. A customer's summary is x (repeat purchases: distinct purchase days after the
first), t_x (weeks from the first purchase to the last) and T (weeks from the first purchase to
the end of calibration)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize
from scipy.special import gammaln, hyp2f1

WEEK = 7 * 86400.0


@dataclass(frozen=True)
class BGNBD:
    r: float
    alpha: float
    a: float
    b: float

    def expected(self, t: float, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        """Expected repeat purchases in the next `t` weeks, per customer."""
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        head = (a + b + x - 1) / (a - 1)
        hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + big_t + t))
        body = 1 - ((alpha + big_t) / (alpha + big_t + t)) ** (r + x) * hyp
        return head * body / self._denominator(x, tx, big_t)

    def p_alive(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        return 1.0 / self._denominator(x, tx, big_t)

    def _denominator(self, x: np.ndarray, tx: np.ndarray, big_t: np.ndarray) -> np.ndarray:
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        with np.errstate(divide="ignore", invalid="ignore"):
            extra = (a / (b + x - 1)) * ((alpha + big_t) / (alpha + tx)) ** (r + x)
        return 1 + np.where(x > 0, extra, 0.0)


def bgnbd_log_likelihood(params: np.ndarray, x: np.ndarray, tx: np.ndarray,
                         big_t: np.ndarray) -> float:
    r, alpha, a, b = np.exp(params)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + big_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-12))
                      - (r + x) * np.log(alpha + tx), -np.inf)
    return float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))


def fit_bgnbd(x: np.ndarray, tx: np.ndarray, big_t: np.ndarray, penalty: float = 0.0) -> BGNBD:
    """Maximum likelihood (a small L2 penalty on the log parameters keeps them finite)."""
    def loss(p: np.ndarray) -> float:
        return -bgnbd_log_likelihood(p, x, tx, big_t) / len(x) + penalty * float(p @ p)

    best = None
    for start in ([0.0, 0.0, 0.0, 0.0], [-1.0, 1.0, -1.0, 1.0]):
        res = minimize(loss, np.asarray(start), method="L-BFGS-B",
                       bounds=[(-10, 10)] * 4)
        if best is None or res.fun < best.fun:
            best = res
    assert best is not None
    r, alpha, a, b = np.exp(best.x)
    return BGNBD(float(r), float(alpha), float(a), float(b))


@dataclass(frozen=True)
class GammaGamma:
    p: float
    q: float
    gamma: float

    def expected_spend(self, x: np.ndarray, m: np.ndarray, overall: float) -> np.ndarray:
        """Expected value of a customer's future transactions (the population mean for those
        with no repeat purchase)."""
        p, q, g = self.p, self.q, self.gamma
        with np.errstate(divide="ignore", invalid="ignore"):
            cond = (p * (g + x * m)) / (p * x + q - 1)
        return np.where(x > 0, cond, overall)


def fit_gamma_gamma(x: np.ndarray, m: np.ndarray) -> GammaGamma:
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]

    def loss(params: np.ndarray) -> float:
        p, q, g = np.exp(params)
        ll = (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(g)
              + (p * x - 1) * np.log(m) + (p * x) * np.log(x) - (p * x + q) * np.log(x * m + g))
        return -float(np.mean(ll))

    res = minimize(loss, np.zeros(3), method="L-BFGS-B", bounds=[(-10, 10)] * 3)
    p, q, g = np.exp(res.x)
    return GammaGamma(float(p), float(q), float(g))
