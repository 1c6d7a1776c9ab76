"""Relative-navigation filter: a thin class over the EKF kernels of ``gnc.nav.ekf_kernels``.

Estimates x = [r_CT_H (m), v_CT_H (m/s)] (chaser relative to target, Hill axes of ``gnc.frames``,
rotating-frame velocity) on the HCW model with white acceleration process noise, from
range/azimuth/elevation measurements of the target seen from the chaser (``gnc.models.rae``).
Time is integer nanoseconds since the scenario epoch.
"""

import operator
from dataclasses import dataclass

import numpy as np

from gnc.models.rae import rel_from_rae
from gnc.nav.ekf_kernels import ekf_predict, ekf_update_rae, hcw_predict_matrices, rel_from_rae_jacobian
from gnc.ports import RaeMeasurement

_NS_PER_S = 1_000_000_000
_MATRIX_CACHE_SIZE = 8


@dataclass(frozen=True)
class RelNavUpdate:
    """Outcome of one measurement update.

    t_ns: time of validity of the measurement and of the filter after the update (ns since epoch).
    nis: normalised innovation squared y' S^-1 y (dimensionless; chi-square with 3 dof when the
    filter is consistent). accepted: False when the chi-square gate rejected it (state untouched).
    """

    t_ns: int
    nis: float
    accepted: bool


def _readonly(a):
    v = a.view()
    v.flags.writeable = False
    return v


class RelNavFilter:
    """EKF on the HCW model with RAE measurements; holds x, P, t_ns and the held acceleration.

    n: target mean motion (rad/s, > 0). q_psd: acceleration-noise PSD per Hill axis (m^2/s^3, >= 0).
    R_diag: measurement variances [range m^2, az rad^2, el rad^2]. gate_chi2: NIS gate (> 0, e.g.
    chi2.ppf(0.9973, 3) = 14.16; np.inf disables gating). x0 (6,) [m, m/s], P0 (6x6, symmetric
    positive definite), t0_ns: epoch of x0 (int ns).

    Counters: ``n_updates`` = measurements offered to ``update`` (accepted or not), ``n_rejected`` =
    those the gate refused. The internal arrays are replaced, never modified in place, so the
    read-only arrays returned by ``x``, ``P``, ``r_CT_H``, ``v_CT_H`` are snapshots.
    """

    def __init__(self, n, q_psd, R_diag, gate_chi2, x0, P0, t0_ns):
        n, q_psd, gate_chi2 = float(n), float(q_psd), float(gate_chi2)
        if not (np.isfinite(n) and n > 0.0):
            raise ValueError(f"RelNavFilter: mean motion n must be finite and > 0 rad/s, got {n}")
        if not (np.isfinite(q_psd) and q_psd >= 0.0):
            raise ValueError(f"RelNavFilter: q_psd must be finite and >= 0 m^2/s^3, got {q_psd}")
        if not gate_chi2 > 0.0:
            raise ValueError(f"RelNavFilter: gate_chi2 must be > 0 (np.inf disables gating), got {gate_chi2}")
        R_diag = np.asarray(R_diag, dtype=np.float64)
        if R_diag.shape != (3,) or not np.all(np.isfinite(R_diag)) or not np.all(R_diag > 0.0):
            raise ValueError(f"RelNavFilter: R_diag must be 3 finite variances > 0, got {R_diag!r}")
        x0 = np.array(x0, dtype=np.float64)
        if x0.shape != (6,) or not np.all(np.isfinite(x0)):
            raise ValueError(f"RelNavFilter: x0 must be 6 finite values [m, m/s], got {x0!r}")
        P0 = np.array(P0, dtype=np.float64)
        if P0.shape != (6, 6) or not np.all(np.isfinite(P0)):
            raise ValueError(f"RelNavFilter: P0 must be a finite 6x6 matrix, got shape {P0.shape}")
        if not np.allclose(P0, P0.T, rtol=1e-9, atol=0.0):
            raise ValueError("RelNavFilter: P0 must be symmetric")
        P0 = 0.5 * (P0 + P0.T)
        try:
            np.linalg.cholesky(P0)
        except np.linalg.LinAlgError:
            raise ValueError("RelNavFilter: P0 must be positive definite") from None

        self._n = n
        self._q_psd = q_psd
        self._gate = gate_chi2
        self._R = np.ascontiguousarray(np.diag(R_diag))
        self._x = x0
        self._P = np.ascontiguousarray(P0)
        self._t_ns = operator.index(t0_ns)
        self._u = np.zeros(3)
        self._cache = {}
        self._n_updates = 0
        self._n_rejected = 0
        self._last_innovation = np.full(3, np.nan)
        self._last_S = np.full((3, 3), np.nan)

    @classmethod
    def from_measurement(cls, meas: RaeMeasurement, vel_sigma, *, n, q_psd, R_diag, gate_chi2, v0_H=(0.0, 0.0, 0.0)):
        """Filter initialised from one RAE measurement at meas.t_ns.

        Position r_CT_H = rel_from_rae(z) with covariance J diag(R_diag) J' (first order, J = d r / d z);
        velocity v0_H (m/s, H; default at rest) with standard deviation vel_sigma (m/s, scalar or (3,)),
        uncorrelated with position. Other arguments as the constructor. Not defined when the target is
        at the zenith/nadir of the chaser (elevation +-pi/2: azimuth carries no information).
        """
        z = meas.as_array()
        R_diag = np.asarray(R_diag, dtype=np.float64)
        if R_diag.shape != (3,):
            raise ValueError(f"RelNavFilter.from_measurement: R_diag must have 3 variances, got {R_diag!r}")
        vel_sigma = np.broadcast_to(np.asarray(vel_sigma, dtype=np.float64), (3,))
        if not np.all(vel_sigma > 0.0):
            raise ValueError(f"RelNavFilter.from_measurement: vel_sigma must be > 0 m/s, got {vel_sigma!r}")
        J = rel_from_rae_jacobian(z)
        P0 = np.zeros((6, 6))
        P0[:3, :3] = (J * R_diag) @ J.T
        P0[3:, 3:] = np.diag(vel_sigma**2)
        x0 = np.concatenate((rel_from_rae(z), np.asarray(v0_H, dtype=np.float64)))
        return cls(n, q_psd, R_diag, gate_chi2, x0, P0, meas.t_ns)

    def _matrices(self, dt_ns):
        m = self._cache.get(dt_ns)
        if m is None:
            if len(self._cache) >= _MATRIX_CACHE_SIZE:
                self._cache.clear()
            m = hcw_predict_matrices(self._n, dt_ns / _NS_PER_S, self._q_psd)
            self._cache[dt_ns] = m
        return m

    def predict_to(self, t_ns, accel_H):
        """Propagate x, P to t_ns (int ns) with the chaser acceleration accel_H (m/s^2, H, 3 values)
        held since the filter time (exact HCW discretisation, zero-order hold).

        accel_H is remembered as the acceleration still held (``update`` predicts with it). A
        zero-length interval leaves x, P, t unchanged; t_ns before the filter time raises ValueError.
        """
        t_ns = operator.index(t_ns)
        dt_ns = t_ns - self._t_ns
        if dt_ns < 0:
            raise ValueError(
                f"RelNavFilter.predict_to: t_ns={t_ns} is {-dt_ns} ns before the filter time "
                f"{self._t_ns} ns; the filter cannot predict backwards (out-of-sequence measurement?)"
            )
        self._u[:] = accel_H
        if dt_ns == 0:
            return
        Phi, Gam, Q = self._matrices(dt_ns)
        self._x, self._P = ekf_predict(self._x, self._P, Phi, Gam, self._u, Q)
        self._t_ns = t_ns

    def update(self, meas: RaeMeasurement) -> RelNavUpdate:
        """Predict to meas.t_ns with the held acceleration, then apply the gated RAE update."""
        self.predict_to(meas.t_ns, self._u)
        z = np.array((meas.range_m, meas.az_rad, meas.el_rad))
        x, P, y, S, nis, accepted = ekf_update_rae(self._x, self._P, z, self._R, self._gate)
        self._n_updates += 1
        if accepted:
            self._x, self._P = x, P
        else:
            self._n_rejected += 1
        self._last_innovation, self._last_S = y, S
        return RelNavUpdate(self._t_ns, float(nis), bool(accepted))

    @property
    def t_ns(self) -> int:
        """Time of the estimate (ns since epoch)."""
        return self._t_ns

    @property
    def x(self):
        """State [r_CT_H m, v_CT_H m/s] (6,), read-only."""
        return _readonly(self._x)

    @property
    def P(self):
        """State covariance (6x6) [m, m/s]^2, read-only."""
        return _readonly(self._P)

    @property
    def r_CT_H(self):
        """Chaser position relative to the target, Hill axes (m), read-only (3,)."""
        return _readonly(self._x[:3])

    @property
    def v_CT_H(self):
        """Chaser velocity relative to the target, rotating-frame derivative in Hill axes (m/s), (3,)."""
        return _readonly(self._x[3:])

    @property
    def sigma(self):
        """Standard deviations sqrt(diag P) (6,) [m, m/s]."""
        return np.sqrt(np.diag(self._P))

    @property
    def accel_H(self):
        """Acceleration held since the last predict_to (m/s^2, H), read-only (3,) copy."""
        return _readonly(self._u.copy())

    @property
    def last_innovation(self):
        """Innovation of the last update [m, rad, rad] (azimuth wrapped); NaN before any update."""
        return _readonly(self._last_innovation)

    @property
    def last_S(self):
        """Innovation covariance of the last update (3x3) [m, rad]^2; NaN before any update."""
        return _readonly(self._last_S)

    @property
    def n_updates(self) -> int:
        """Measurements offered to update (accepted or rejected)."""
        return self._n_updates

    @property
    def n_rejected(self) -> int:
        """Measurements rejected by the chi-square gate."""
        return self._n_rejected
