"""Process models of the navigation filters: thin shells over the kernels of ``gnc.models``.

Each gives, for the interval [t_ns, t_ns + dt_ns] (ns since epoch), the discrete model of the
6-state [r_CT_H m, v_CT_H m/s] (Hill axes, rotating-frame velocity) with acceleration u (m/s^2, H)
held and white acceleration noise of PSD q_psd (m^2/s^3) per Hill axis:
``linear(t_ns, dt_ns, q_psd) -> (Phi 6x6, Gam 6x3, Q 6x6)``. A nonlinear model also has
``propagate_points(X, t_ns, dt_ns, u)`` (sigma points, for the UKF) and uses its linearisation about
the target orbit for ``linear``.
"""

import numpy as np

from gnc.models.nerm import nerm_propagate_points
from gnc.models.ya import mean_from_true, true_from_mean, ya_predict_matrices
from gnc.nav.ekf_kernels import hcw_predict_matrices

_NS_PER_S = 1_000_000_000
_CACHE_SIZE = 8


class HcwProcess:
    """HCW (circular target orbit, mean motion n rad/s); matrices cached by interval length."""

    time_invariant = True

    def __init__(self, n):
        if not (np.isfinite(n) and n > 0.0):
            raise ValueError(f"HcwProcess: mean motion n must be finite and > 0 rad/s, got {n}")
        self.n = float(n)
        self._cache = {}

    def linear(self, t_ns, dt_ns, q_psd):
        key = (dt_ns, q_psd)
        m = self._cache.get(key)
        if m is None:
            if len(self._cache) >= _CACHE_SIZE:
                self._cache.clear()
            m = hcw_predict_matrices(self.n, dt_ns / _NS_PER_S, q_psd)
            self._cache[key] = m
        return m


class YaProcess:
    """Yamanaka-Ankersen (eccentric target orbit): mean motion n (rad/s), eccentricity e in [0, 1),
    target true anomaly theta_epoch_rad at t = 0 ns."""

    time_invariant = False

    def __init__(self, n, e, theta_epoch_rad):
        if not (np.isfinite(n) and n > 0.0):
            raise ValueError(f"YaProcess: mean motion n must be finite and > 0 rad/s, got {n}")
        if not 0.0 <= e < 1.0:
            raise ValueError(f"YaProcess: eccentricity must be in [0, 1), got {e}")
        self.n, self.e = float(n), float(e)
        self._M0 = mean_from_true(float(theta_epoch_rad), self.e)

    def theta(self, t_ns):
        """Target true anomaly (rad) at t_ns."""
        return true_from_mean(self._M0 + self.n * (t_ns / _NS_PER_S), self.e)

    def linear(self, t_ns, dt_ns, q_psd):
        Phi, Gam, Q, _ = ya_predict_matrices(self.n, self.e, self.theta(t_ns), dt_ns / _NS_PER_S, q_psd)
        return Phi, Gam, Q


class NermProcess(YaProcess):
    """Nonlinear two-body relative motion (``gnc.models.nerm``) about the same Keplerian target orbit;
    mu: gravitational parameter (m^3/s^2), max_step_s: RK4 step bound (s). ``linear`` is the YA
    linearisation (process noise, and the EKF's covariance propagation)."""

    def __init__(self, mu, n, e, theta_epoch_rad, max_step_s=10.0):
        super().__init__(n, e, theta_epoch_rad)
        if not (mu > 0.0 and max_step_s > 0.0):
            raise ValueError(f"NermProcess: need mu > 0 and max_step_s > 0, got {mu}, {max_step_s}")
        self.mu, self.max_step_s = float(mu), float(max_step_s)

    def propagate_points(self, X, t_ns, dt_ns, u):
        """Rows of X (k, 6) propagated over dt_ns with u (m/s^2, H) held."""
        return nerm_propagate_points(X, u, self.mu, self.n, self.e, self.theta(t_ns), dt_ns / _NS_PER_S,
                                     self.max_step_s)
