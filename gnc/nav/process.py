"""Process models of the navigation filters: thin shells over the kernels of ``gnc.models``.

Each gives, for the interval [t_ns, t_ns + dt_ns] (ns since epoch), the discrete model of the
6-state [r_CT_H m, v_CT_H m/s] (Hill axes, rotating-frame velocity) with acceleration u (m/s^2, H)
held and white acceleration noise of PSD q_psd (m^2/s^3) per Hill axis:
``linear(t_ns, dt_ns, q_psd) -> (Phi 6x6, Gam 6x3, Q 6x6)``. A nonlinear model also has
``propagate_points(X, t_ns, dt_ns, u)`` (sigma points, for the UKF) and uses its linearisation about
the target orbit for ``linear``. ``process_from_config`` picks the model named by ``[nav] process``.
"""

import numpy as np

from gnc.frames import kepler_to_eci
from gnc.models.nerm import nerm_propagate_points
from gnc.models.nerm_j2 import J2_EARTH, MU_EARTH, R_EARTH, nerm_j2_propagate_points, target_propagate
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
    target true anomaly theta_epoch_rad at t = 0 ns. At e = 0 ``linear`` gives YA's limit, HCW, from
    ``HcwProcess`` (cached by interval: 30x cheaper per call), and the model is time-invariant."""

    def __init__(self, n, e, theta_epoch_rad):
        if not (np.isfinite(n) and n > 0.0):
            raise ValueError(f"YaProcess: mean motion n must be finite and > 0 rad/s, got {n}")
        if not 0.0 <= e < 1.0:
            raise ValueError(f"YaProcess: eccentricity must be in [0, 1), got {e}")
        self.n, self.e = float(n), float(e)
        self._M0 = mean_from_true(float(theta_epoch_rad), self.e)
        self._circular = HcwProcess(self.n) if self.e == 0.0 else None
        self.time_invariant = self._circular is not None  # linear() then depends on the interval only

    def theta(self, t_ns):
        """Target true anomaly (rad) at t_ns."""
        return true_from_mean(self._M0 + self.n * (t_ns / _NS_PER_S), self.e)

    def linear(self, t_ns, dt_ns, q_psd):
        if self._circular is not None:
            return self._circular.linear(t_ns, dt_ns, q_psd)
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


class NermJ2Process(YaProcess):
    """Nonlinear relative motion under point-mass + J2 gravity (``gnc.models.nerm_j2``), in the Hill frame
    of the J2-perturbed target. Target orbit at t = 0 ns: osculating mean motion n (rad/s, gives the
    semi-major axis with mu), eccentricity e, true anomaly theta_epoch_rad, inclination_rad (to the
    Earth's equator, [0, pi]) and arg_perigee_rad; mu (m^3/s^2), j2 (-), re (m, J2 reference radius),
    max_step_s: RK4 step bound (s). The target's state at time t is a pure function of t (RK4 from a
    grid of states every 6 max_step_s from the epoch), so results do not depend on the order of calls.
    ``linear`` is the two-body YA linearisation (process noise, the EKF's covariance propagation; it
    leaves out J2's O(1e-3) share of the Jacobian)."""

    def __init__(self, n, e, theta_epoch_rad, inclination_rad, arg_perigee_rad=0.0, *, mu=MU_EARTH, j2=J2_EARTH,
                 re=R_EARTH, max_step_s=10.0):
        super().__init__(n, e, theta_epoch_rad)
        for what, v, ok in (("inclination_rad", inclination_rad, 0.0 <= inclination_rad <= np.pi),
                            ("arg_perigee_rad", arg_perigee_rad, np.isfinite(arg_perigee_rad)),
                            ("mu", mu, mu > 0.0), ("j2", j2, j2 >= 0.0), ("re", re, re > 0.0),
                            ("max_step_s", max_step_s, max_step_s > 0.0)):
            if not (np.isfinite(v) and ok):
                raise ValueError(f"NermJ2Process: {what} out of range, got {v}")
        self.mu, self.j2, self.re, self.max_step_s = float(mu), float(j2), float(re), float(max_step_s)
        a = (self.mu / self.n ** 2) ** (1.0 / 3.0)
        if a * (1.0 - self.e) <= self.re:
            raise ValueError(f"NermJ2Process: perigee radius {a * (1.0 - self.e):.0f} m is inside re = {self.re} m")
        r, v = kepler_to_eci(self.mu, a, self.e, float(inclination_rad), 0.0, float(arg_perigee_rad),
                             float(theta_epoch_rad))
        self._grid = [np.concatenate((r, v))]  # target [r_TN_N, v_TN_N] at k * _grid_ns, node-aligned N
        self._grid_ns = round(6.0 * self.max_step_s * _NS_PER_S)

    def target_state(self, t_ns):
        """Target [r_TN_N m, v_TN_N m/s] at t_ns >= 0 (node-aligned N: RAAN = 0)."""
        if t_ns < 0:
            raise ValueError(f"NermJ2Process: t_ns = {t_ns} is before the target orbit's epoch (0 ns)")
        k, rem_ns = divmod(t_ns, self._grid_ns)
        g = self._grid
        while len(g) <= k:
            g.append(target_propagate(g[-1], self.mu, self.j2, self.re, self._grid_ns / _NS_PER_S, self.max_step_s))
        if rem_ns == 0:
            return g[k]
        return target_propagate(g[k], self.mu, self.j2, self.re, rem_ns / _NS_PER_S, self.max_step_s)

    def propagate_points(self, X, t_ns, dt_ns, u):
        """Rows of X (k, 6) propagated over dt_ns with u (m/s^2, H) held."""
        Y, _ = nerm_j2_propagate_points(X, np.asarray(u, dtype=np.float64), self.mu, self.j2, self.re,
                                        self.target_state(t_ns), dt_ns / _NS_PER_S, self.max_step_s)
        return Y


def process_from_config(cfg):
    """The navigation process model named by cfg.nav.process, for a ``gnc.config.FlightConfig`` cfg (its target
    orbit knowledge: n_rad_s, eccentricity, true_anomaly0_rad, inclination_rad, arg_perigee_rad)."""
    name = cfg.nav.process
    if name == "hcw":
        return HcwProcess(cfg.n_rad_s)
    if name == "ya":
        return YaProcess(cfg.n_rad_s, cfg.eccentricity, cfg.true_anomaly0_rad)
    if name == "nerm":
        return NermProcess(MU_EARTH, cfg.n_rad_s, cfg.eccentricity, cfg.true_anomaly0_rad)
    if name == "nerm_j2":
        if cfg.inclination_rad is None:
            raise ValueError("inclination_rad: the target's inclination is needed by nav.process = 'nerm_j2'")
        return NermJ2Process(cfg.n_rad_s, cfg.eccentricity, cfg.true_anomaly0_rad, cfg.inclination_rad,
                             cfg.arg_perigee_rad)
    raise ValueError(f"nav.process = {name!r}: must be one of 'hcw', 'ya', 'nerm', 'nerm_j2'")
