"""Relative-navigation filters: thin classes over the EKF and UKF kernels.

Estimate x = [r_CT_H (m), v_CT_H (m/s)] (chaser relative to target, Hill axes of ``gnc.frames``,
rotating-frame velocity), optionally with the RAE sensor's range bias b_r (m) as x[6] and its azimuth
and elevation biases b_az, b_el (rad) as x[7], x[8] (random walks), then (EKF) a thrust-scale error s (-)
(true acceleration (1 + s) u), then an unmodelled acceleration d (m/s^2, H, 3; first-order Gauss-Markov,
v_dot += d), placed by ``gnc.models.measurements.state_layout``, on a process model of
``gnc.nav.process`` (HCW by default) with white acceleration noise, from the measurement messages
of ``gnc.ports``: RaeMeasurement (lidar), AnglesMeasurement (camera), RelPosMeasurement (relative
GNSS), SpecificForceMeasurement (IMU: h = (1 + s) u + d). Time is integer nanoseconds since the scenario epoch.

Robustness:
- chi-square gate per measurement kind (same false-rejection probability for 2- and 3-component
  measurements), rejections counted per sensor name;
- gaps and dropouts: the filter predicts across any interval (covariance grows with the model);
- late (out-of-sequence) measurements: with ``history_ns`` > 0 the filter keeps the state after
  every event of the last history_ns and re-processes from the last state before the late
  measurement's time tag (exact: the same result as in-order processing); older ones, or any with
  history_ns = 0, are rejected and counted (``n_late``);
- re-initialisation: after ``reinit_after`` consecutive gate rejections of position-bearing
  measurements (RAE, relative GNSS) the position is re-initialised from the measurement and the
  velocity covariance reset (``n_reinit``).
"""

import math
import operator
from typing import NamedTuple

import numba
import numpy as np

from gnc.models.measurements import (
    LAY_I_ACCEL,
    LAY_I_SCALE,
    LAY_U,
    LAYOUT_LEN,
    MEAS_ACCEL,
    MEAS_ANGLES,
    MEAS_RAE,
    MEAS_RELPOS,
    state_layout,
)
from gnc.models.rae import rel_from_rae
from gnc.nav.ekf_kernels import (
    N_SLOTS,
    N_STATE_PAGES,
    PG_GATE,
    PG_P,
    PG_S,
    PG_SLOT,
    PG_VEC,
    ROW_SLOT_DT,
    accel_meas_cov_into,
    ekf_step,
    ekf_step_dt,
    new_work,
    rel_from_rae_jacobian,
    thrust_process_noise,
)
from gnc.nav.process import HcwProcess
from gnc.nav.ukf_kernels import ukf_moments, ukf_predict_linear, ukf_sigma_points, ukf_update_layout, ukf_weights
from gnc.ports import AnglesMeasurement, RaeMeasurement, RelPosMeasurement, SpecificForceMeasurement

_NS_PER_S = 1_000_000_000
_KIND_OF = {RaeMeasurement: MEAS_RAE, AnglesMeasurement: MEAS_ANGLES, RelPosMeasurement: MEAS_RELPOS,
            SpecificForceMeasurement: MEAS_ACCEL}
_KIND_NAME = {MEAS_RAE: "RAE", MEAS_ANGLES: "angles (give angles_R_diag)",
              MEAS_RELPOS: "relative position (give relpos_R_diag)",
              MEAS_ACCEL: "specific force (give accel_R_diag)"}


class RelNavUpdate(NamedTuple):
    """Outcome of one measurement update.

    t_ns: time tag of the measurement (ns since epoch). nis: normalised innovation squared y' S^-1 y
    (chi-square with the measurement's dimension when the filter is consistent; NaN for a late
    measurement that was not processed). accepted: False when rejected (gate, geometry or too late).
    """

    t_ns: int
    nis: float
    accepted: bool


class SensorStats(NamedTuple):
    """Counts for one sensor name: offered (every update call), rejected (gate or geometry), late
    (older than the history, not processed)."""

    offered: int
    rejected: int
    late: int


def _chi2_3_cdf(g):
    """P(chi-square with 3 dof <= g)."""
    return math.erf(math.sqrt(g / 2.0)) - math.sqrt(2.0 * g / math.pi) * math.exp(-g / 2.0)


def _readonly(a):
    a.flags.writeable = False
    return a


_new_update = tuple.__new__


def _entry_point(dispatcher, *args):
    """The compiled function of a numba dispatcher for the types of args (compiled or loaded from the
    cache by calling it once with args): called directly it skips the dispatcher's type resolution
    (about 0.2 us a call); it raises TypeError on arguments it cannot convert to those types."""
    dispatcher(*args)
    return dispatcher.overloads[tuple(numba.typeof(a) for a in args)].entry_point


class _RelNavBase:
    """Shared state, configuration and robustness logic; subclasses supply _predict and _correct."""

    def __init__(self, n, q_psd, R_diag, gate_chi2, x0, P0, t0_ns, *, process=None, angles_R_diag=None,
                 relpos_R_diag=None, range_bias_sigma_m=None, range_bias_psd=0.0, angle_bias_sigma_rad=None,
                 angle_bias_psd=0.0, thrust_scale_sigma=None, accel_state_sigma_m_s2=None, accel_state_tau_s=600.0,
                 accel_R_diag=None, history_ns=0, reinit_after=0, reinit_vel_sigma_m_s=0.1, thrust_noise_frac=0.0,
                 thrust_noise_dir_rad=0.0, input_accel_sigma_m_s2=0.0):
        name = type(self).__name__
        n, q_psd, gate_chi2 = float(n), float(q_psd), float(gate_chi2)
        for what, v in (("thrust_noise_frac", thrust_noise_frac), ("thrust_noise_dir_rad", thrust_noise_dir_rad),
                        ("input_accel_sigma_m_s2", input_accel_sigma_m_s2)):
            if not (np.isfinite(v) and v >= 0.0):
                raise ValueError(f"{name}: {what} must be finite and >= 0, got {v}")
        # variances of the held acceleration's errors (``thrust_noise_add_inplace``): scale, direction, input
        self._thrust_var = (float(thrust_noise_frac) ** 2, float(thrust_noise_dir_rad) ** 2,
                            float(input_accel_sigma_m_s2) ** 2)
        if not (np.isfinite(n) and n > 0.0):
            raise ValueError(f"{name}: mean motion n must be finite and > 0 rad/s, got {n}")
        if not (np.isfinite(q_psd) and q_psd >= 0.0):
            raise ValueError(f"{name}: q_psd must be finite and >= 0 m^2/s^3, got {q_psd}")
        if not gate_chi2 > 0.0:
            raise ValueError(f"{name}: gate_chi2 must be > 0 (np.inf disables gating), got {gate_chi2}")
        self._R = {MEAS_RAE: self._diag(name, "R_diag", R_diag, 3)}
        if angles_R_diag is not None:
            self._R[MEAS_ANGLES] = self._diag(name, "angles_R_diag", angles_R_diag, 2)
        if relpos_R_diag is not None:
            self._R[MEAS_RELPOS] = self._diag(name, "relpos_R_diag", relpos_R_diag, 3)
        if accel_R_diag is not None:
            if accel_state_sigma_m_s2 is None:
                raise ValueError(f"{name}: accel_R_diag (specific-force measurements) needs the unmodelled-"
                                 f"acceleration state (accel_state_sigma_m_s2)")
            self._R[MEAS_ACCEL] = self._diag(name, "accel_R_diag", accel_R_diag, 3)
        # the 2-component gate with the false-rejection probability of the 3-component one
        p_reject = 1.0 - _chi2_3_cdf(gate_chi2) if np.isfinite(gate_chi2) else 0.0
        g2 = -2.0 * math.log(p_reject) if p_reject > 0.0 else np.inf
        self._gate = {MEAS_RAE: gate_chi2, MEAS_ANGLES: g2, MEAS_RELPOS: gate_chi2, MEAS_ACCEL: gate_chi2}
        x0 = np.array(x0, dtype=np.float64)
        if x0.shape != (6,) or not np.all(np.isfinite(x0)):
            raise ValueError(f"{name}: x0 must be 6 finite values [m, m/s], got {x0!r}")
        P0 = np.array(P0, dtype=np.float64)
        if P0.shape != (6, 6) or not np.all(np.isfinite(P0)):
            raise ValueError(f"{name}: P0 must be a finite 6x6 matrix, got shape {P0.shape}")
        if not np.allclose(P0, P0.T, rtol=1e-9, atol=0.0):
            raise ValueError(f"{name}: P0 must be symmetric")
        P0 = 0.5 * (P0 + P0.T)
        try:
            np.linalg.cholesky(P0)
        except np.linalg.LinAlgError:
            raise ValueError(f"{name}: P0 must be positive definite") from None
        bias_var, self._bias_psd = [], []  # bias states x[6:]: b_r (m)(, b_az, b_el (rad))
        if range_bias_sigma_m is not None:
            if not (range_bias_sigma_m > 0.0 and range_bias_psd >= 0.0):
                raise ValueError(f"{name}: range_bias_sigma_m must be > 0 m and range_bias_psd >= 0 m^2/s")
            bias_var.append(float(range_bias_sigma_m) ** 2)
            self._bias_psd.append(float(range_bias_psd))
        if angle_bias_sigma_rad is not None:
            if range_bias_sigma_m is None:
                raise ValueError(f"{name}: angle_bias_sigma_rad needs the range-bias state (range_bias_sigma_m)")
            if not (angle_bias_sigma_rad > 0.0 and angle_bias_psd >= 0.0):
                raise ValueError(f"{name}: angle_bias_sigma_rad must be > 0 rad and angle_bias_psd >= 0 rad^2/s")
            bias_var += [float(angle_bias_sigma_rad) ** 2] * 2
            self._bias_psd += [float(angle_bias_psd)] * 2
        self._n_bias = len(bias_var)
        if thrust_scale_sigma is not None:
            if self._n_bias != 3:
                raise ValueError(f"{name}: thrust_scale_sigma needs the range- and angle-bias states")
            if not thrust_scale_sigma > 0.0:
                raise ValueError(f"{name}: thrust_scale_sigma must be > 0, got {thrust_scale_sigma}")
            bias_var.append(float(thrust_scale_sigma) ** 2)
            self._bias_psd.append(0.0)
        self._accel_gm = None  # (steady-state variance (m/s^2)^2, correlation time s) of d
        if accel_state_sigma_m_s2 is not None:
            sig, tau = float(accel_state_sigma_m_s2), float(accel_state_tau_s)
            if not (np.isfinite(sig) and sig > 0.0 and np.isfinite(tau) and tau > 0.0):
                raise ValueError(f"{name}: accel_state_sigma_m_s2 and accel_state_tau_s must be finite and > 0, "
                                 f"got {sig}, {tau}")
            bias_var += [sig ** 2] * 3
            self._accel_gm = (sig ** 2, tau)
        self._nx, layout = state_layout(self._n_bias, thrust_scale_sigma is not None, self._accel_gm is not None)
        self._i_s, self._i_d = int(layout[LAY_I_SCALE]), int(layout[LAY_I_ACCEL])
        x0 = np.concatenate((x0, np.zeros(len(bias_var))))
        P0 = np.pad(P0, ((0, len(bias_var)), (0, len(bias_var))))
        P0[6:, 6:] = np.diag(bias_var)
        self._process = HcwProcess(n) if process is None else process
        self._q_psd = q_psd
        W = self._w = new_work(self._nx, self._R, self._gate, *self._thrust_var, layout)
        self._lay, self._lay_u = W[PG_GATE, 2, :LAYOUT_LEN], W[PG_GATE, 2, LAY_U:LAY_U + 3]
        self._x, self._u, self._y = W[PG_VEC, 0], W[PG_VEC, 1, :3], W[PG_VEC, 2, :3]
        self._P, self._S = W[PG_P], W[PG_S, :3, :3]
        self._slot_views = [(W[k], W[k + 1, :, :3], W[k + 2]) for k in range(PG_SLOT, PG_SLOT + 3 * N_SLOTS, 3)]
        self._slot_dt = W[PG_GATE, ROW_SLOT_DT, :N_SLOTS]
        self._slots = {}  # time-invariant process: interval (ns) -> slot holding its model
        self._next_slot = 0
        self._x[:] = x0
        self._P[:, :] = P0
        self._t_ns = operator.index(t0_ns)
        self._history_ns = operator.index(history_ns)
        self._hist = []  # (t_ns, u (3,), measurement or None, work buffer after the event)
        self._reinit_after = int(reinit_after)
        self._reinit_vel_var = float(reinit_vel_sigma_m_s) ** 2
        self._streak = 0
        self._n_rejected = self._n_late = self._n_reinit = 0
        self._stats = {}
        self._m = 3  # components of the last update
        if self._history_ns:
            self._remember(None)

    @staticmethod
    def _diag(name, what, v, m):
        v = np.asarray(v, dtype=np.float64)
        if v.shape != (m,) or not np.all(np.isfinite(v)) or not np.all(v > 0.0):
            raise ValueError(f"{name}: {what} must be {m} finite variances > 0, got {v!r}")
        return np.ascontiguousarray(np.diag(v))

    @classmethod
    def from_measurement(cls, meas: RaeMeasurement, vel_sigma, *, n, q_psd, R_diag, gate_chi2, v0_H=(0.0, 0.0, 0.0),
                         **options):
        """Filter initialised from one RAE measurement at meas.t_ns.

        Position r_CT_H = rel_from_rae(z) with covariance J diag(R_diag) J' (first order, J = d r / d z);
        velocity v0_H (m/s, H; default at rest) with standard deviation vel_sigma (m/s, scalar or (3,)),
        uncorrelated with position. Other arguments as the constructor. Not defined when the target is
        at the zenith/nadir of the chaser (elevation +-pi/2: azimuth carries no information).
        """
        z = meas.as_array()
        R_diag = np.asarray(R_diag, dtype=np.float64)
        if R_diag.shape != (3,):
            raise ValueError(f"{cls.__name__}.from_measurement: R_diag must have 3 variances, got {R_diag!r}")
        vel_sigma = np.broadcast_to(np.asarray(vel_sigma, dtype=np.float64), (3,))
        if not np.all(vel_sigma > 0.0):
            raise ValueError(f"{cls.__name__}.from_measurement: vel_sigma must be > 0 m/s, got {vel_sigma!r}")
        J = rel_from_rae_jacobian(z)
        P0 = np.zeros((6, 6))
        P0[:3, :3] = (J * R_diag) @ J.T
        P0[3:, 3:] = np.diag(vel_sigma**2)
        x0 = np.concatenate((rel_from_rae(z), np.asarray(v0_H, dtype=np.float64)))
        return cls(n, q_psd, R_diag, gate_chi2, x0, P0, meas.t_ns, **options)

    # --- model -------------------------------------------------------------------------------------
    def _slot(self, dt_ns):
        """Model slot of the work buffer holding the discrete model of [t, t + dt_ns] (loaded if needed)."""
        k = self._slots.get(dt_ns)
        return self._load_slot(dt_ns) if k is None else k

    def _load_slot(self, dt_ns):
        """Write the discrete model of [t, t + dt_ns] into a slot: round robin over the slots for a
        time-invariant process (remembered by interval), slot 0 every time for a time-varying one."""
        Phi, Gam, Q = self._process.linear(self._t_ns, dt_ns, self._q_psd)
        k = 0
        if self._process.time_invariant:
            k = self._next_slot
            self._next_slot = (k + 1) % N_SLOTS
            for key in [key for key, v in self._slots.items() if v == k]:
                del self._slots[key]
        sPhi, sGam, sQ = self._slot_views[k]
        sPhi[:, :], sGam[:, :], sQ[:, :] = 0.0, 0.0, 0.0
        sPhi[:6, :6] = Phi
        sGam[:6, :] = Gam
        sQ[:6, :6] = Q
        for i, psd in enumerate(self._bias_psd, 6):  # biases: random walks
            sPhi[i, i] = 1.0
            sQ[i, i] = psd * dt_ns / _NS_PER_S
        if self._accel_gm is not None:  # d: Gauss-Markov, acting on r, v as an acceleration held over the interval
            var, tau = self._accel_gm  # (its decay within the interval neglected: relative error O(dt / tau))
            i, phi = self._i_d, math.exp(-dt_ns / _NS_PER_S / tau)
            sPhi[:6, i:i + 3] = Gam
            for j in range(i, i + 3):
                sPhi[j, j] = phi
                sQ[j, j] = var * (1.0 - phi * phi)
        if self._process.time_invariant:
            self._slots[dt_ns] = k
        self._slot_dt[k] = dt_ns if self._process.time_invariant else np.nan  # ``ekf_step_dt``'s lookup
        return k

    def _kind(self, meas):
        """Measurement kind of meas (a specific force's u written into the layout); ValueError when its
        covariance was not configured."""
        kind = _KIND_OF[type(meas)]
        if kind not in self._R:
            raise ValueError(f"{type(self).__name__}: no covariance configured for {_KIND_NAME[kind]} measurements")
        if kind == MEAS_ACCEL:
            self._lay_u[:] = meas.u_H_m_s2
        return kind

    def _accel_u(self, u):
        """The acceleration the model applies for the commanded u (m/s^2, H): (1 + s) u + d with the states."""
        if self._i_s >= 0:
            u = u * (1.0 + self._x[self._i_s])
        if self._i_d >= 0:
            u = u + self._x[self._i_d:self._i_d + 3]
        return u

    # --- public API --------------------------------------------------------------------------------
    def predict_to(self, t_ns, accel_H):
        """Propagate x, P to t_ns (int ns) with the chaser acceleration accel_H (m/s^2, H, 3 values)
        held since the filter time (zero-order hold).

        accel_H is remembered as the acceleration still held (``update`` predicts with it). A
        zero-length interval leaves x, P, t unchanged; t_ns before the filter time raises ValueError.
        """
        dt_ns = operator.index(t_ns) - self._t_ns
        if dt_ns < 0:
            raise ValueError(
                f"{type(self).__name__}.predict_to: t_ns={t_ns} is {-dt_ns} ns before the filter time "
                f"{self._t_ns} ns; the filter cannot predict backwards (late measurements go to update)"
            )
        self._u[...] = accel_H  # the Ellipsis form is numpy's fast path (5x a slice)
        if dt_ns == 0:
            return
        self._predict(dt_ns)
        self._t_ns = t_ns
        if self._history_ns:
            self._remember(None)

    def update(self, meas) -> RelNavUpdate:
        """Predict to meas.t_ns with the held acceleration and apply the gated update; a measurement
        older than the filter time is re-processed from the history or rejected (see module doc)."""
        t_ns = meas.t_ns
        st = self._offered(meas)
        dt_ns = t_ns - self._t_ns
        if dt_ns < 0:
            return self._late(meas, st)
        r = self._step(meas, dt_ns)
        self._t_ns = t_ns
        if r >= 0.0:
            if type(meas) is not SpecificForceMeasurement:  # says nothing of the position
                self._streak = 0
            res = _new_update(RelNavUpdate, (t_ns, r, True))
        else:
            self._rejected(meas, st)
            res = _new_update(RelNavUpdate, (t_ns, -r, False))
        if self._history_ns:
            self._remember(meas)
        return res

    def update_predict(self, meas, t_ns, accel_H) -> float:
        """``update(meas)`` then ``predict_to(t_ns, accel_H)`` (the executive's nav stage for its last
        measurement). Returns the signed NIS r instead of a RelNavUpdate: nis = abs(r), accepted = r >= 0
        (NaN for a late measurement that was not processed)."""
        res = self.update(meas)
        self.predict_to(t_ns, accel_H)
        return res.nis if res.accepted else -res.nis

    # --- robustness --------------------------------------------------------------------------------
    def _offered(self, meas):
        """Count meas as offered to its sensor's stats; returns that sensor's [offered, rejected, late]."""
        st = self._stats.get(meas.sensor)
        if st is None:
            st = self._stats[meas.sensor] = [0, 0, 0]
        st[0] += 1
        return st

    def _rejected(self, meas, st):
        self._n_rejected += 1
        st[1] += 1
        kind = _KIND_OF[type(meas)]
        if kind in (MEAS_ANGLES, MEAS_ACCEL) or not self._reinit_after:
            return
        self._streak += 1
        if self._streak >= self._reinit_after:
            self._reinitialise(kind, meas.as_array())

    def _reinitialise(self, kind, z):
        """Position from the measurement (first-order covariance), velocity kept with a reset
        covariance, cross-covariances zeroed; the bias states keep their covariance."""
        R = self._R[kind]
        if kind == MEAS_RAE:
            z = z.copy()
            z[:self._n_bias] -= self._x[6:6 + self._n_bias]
            J = rel_from_rae_jacobian(z)
            r, Prr = rel_from_rae(z), J @ R @ J.T
        else:
            r, Prr = z, R.copy()
        bias_cov = self._P[6:, 6:].copy()
        self._x[:3] = r
        self._P[:, :] = 0.0
        self._P[:3, :3] = Prr
        self._P[3:6, 3:6] = np.eye(3) * self._reinit_vel_var
        self._P[6:, 6:] = bias_cov
        self._streak = 0
        self._n_reinit += 1

    def inflate(self, pos_sigma_m: float, vel_sigma_m_s: float) -> None:
        """Widen the estimate for an acceleration the filter was not told of (a thruster failure declared after
        a detection delay): pos_sigma_m^2 (m^2) and vel_sigma_m_s^2 ((m/s)^2) added to each position and velocity
        variance (H), so the next measurements pass the gate and pull the estimate back."""
        if not all(math.isfinite(v) and v >= 0 for v in (pos_sigma_m, vel_sigma_m_s)):
            raise ValueError(f"{type(self).__name__}.inflate: sigmas must be finite and >= 0, got "
                             f"{pos_sigma_m}, {vel_sigma_m_s}")
        for k in range(3):
            self._P[k, k] += pos_sigma_m ** 2
            self._P[3 + k, 3 + k] += vel_sigma_m_s ** 2

    def _remember(self, meas):
        h = self._hist
        h.append((self._t_ns, self._u.copy(), meas, self._w[:N_STATE_PAGES].copy()))
        horizon = self._t_ns - self._history_ns
        # keep one state at or before the horizon, as the anchor for the oldest admissible measurement
        while len(h) > 1 and h[1][0] <= horizon:
            h.pop(0)

    def _late(self, meas, st):
        h = self._hist
        k = len(h) - 1
        while k >= 0 and h[k][0] > meas.t_ns:
            k -= 1
        if k < 0:
            self._n_late += 1
            st[2] += 1
            return _new_update(RelNavUpdate, (meas.t_ns, math.nan, False))
        later, u_end = h[k + 1:], self._u.copy()
        del h[k + 1:]
        self._t_ns, self._w[:N_STATE_PAGES] = h[k][0], h[k][3]
        res = None
        events = [(meas.t_ns, later[0][1], meas)] + [e[:3] for e in later]
        for t_e, u_e, m_e in events:
            self._u[:] = u_e
            if m_e is None:
                self.predict_to(t_e, u_e)
                continue
            r = self._step(m_e, t_e - self._t_ns)
            self._t_ns = t_e
            self._remember(m_e)
            if m_e is meas:
                res = _new_update(RelNavUpdate, (t_e, abs(r), r >= 0.0))
                if not r >= 0.0:
                    self._rejected(meas, st)
        self._u[:] = u_end
        return res

    # --- read-out ----------------------------------------------------------------------------------
    @property
    def t_ns(self) -> int:
        """Time of the estimate (ns since epoch)."""
        return self._t_ns

    @property
    def x(self):
        """State [r_CT_H m, v_CT_H m/s(, b_r m(, b_az rad, b_el rad))(, s)(, d m/s^2 (3))], read-only copy."""
        return _readonly(self._x.copy())

    @property
    def P(self):
        """State covariance [m, m/s(, m)]^2, read-only copy."""
        return _readonly(self._P.copy())

    @property
    def r_CT_H(self):
        """Chaser position relative to the target, Hill axes (m), read-only (3,)."""
        return _readonly(self._x[:3].copy())

    @property
    def v_CT_H(self):
        """Chaser velocity relative to the target, rotating-frame derivative in Hill axes (m/s), (3,)."""
        return _readonly(self._x[3:6].copy())

    @property
    def x_rv(self):
        """[r_CT_H m, v_CT_H m/s] without the bias states, read-only (6,) copy."""
        return _readonly(self._x[:6].copy())

    @property
    def P_rv(self):
        """Covariance of x_rv [m, m/s]^2, read-only (6x6) copy."""
        return _readonly(self._P[:6, :6].copy())

    @property
    def sigma_rv(self):
        """Standard deviations of x_rv [m, m/s] (6,)."""
        return np.sqrt(np.diag(self._P)[:6])

    @property
    def sigma(self):
        """Standard deviations sqrt(diag P) [m, m/s(, m)]."""
        return np.sqrt(np.diag(self._P))

    @property
    def accel_state_index(self) -> int:
        """Index of d[0] in x (-1: no unmodelled-acceleration state)."""
        return self._i_d

    @property
    def accel_H(self):
        """Acceleration held since the last predict_to (m/s^2, H), read-only (3,) copy."""
        return _readonly(self._u.copy())

    @property
    def last_innovation(self):
        """Innovation of the last update (its m components, azimuth wrapped); NaN before any update."""
        return _readonly(self._y[:self._m].copy())

    @property
    def last_S(self):
        """Innovation covariance of the last update (m x m); NaN before any update."""
        return _readonly(self._S[:self._m, :self._m].copy())

    @property
    def n_updates(self) -> int:
        """Measurements offered to update (accepted, rejected or late)."""
        return sum(st[0] for st in self._stats.values())

    @property
    def n_rejected(self) -> int:
        """Measurements rejected by the chi-square gate or the geometry guard."""
        return self._n_rejected

    @property
    def history_ns(self) -> int:
        """Age (ns) up to which a late measurement is re-processed (0: none is)."""
        return self._history_ns

    @property
    def n_late(self) -> int:
        """Measurements older than the kept history (not processed)."""
        return self._n_late

    @property
    def n_reinit(self) -> int:
        """Re-initialisations after streaks of rejected position measurements."""
        return self._n_reinit

    @property
    def sensor_stats(self) -> dict:
        """{sensor name: SensorStats(offered, rejected, late)}."""
        return {k: SensorStats(*v) for k, v in self._stats.items()}


class RelNavFilter(_RelNavBase):
    """EKF (``gnc.nav.ekf_kernels``): predict and update fused in one kernel call per measurement.

    n: target mean motion (rad/s, > 0). q_psd: acceleration-noise PSD per Hill axis (m^2/s^3, >= 0).
    R_diag: RAE variances [range m^2, az rad^2, el rad^2]. gate_chi2: NIS gate for 3-component
    measurements (> 0, e.g. chi2.ppf(0.9973, 3) = 14.16; np.inf disables gating); angles use the
    2-dof gate of the same probability. x0 (6,) [m, m/s], P0 (6x6, symmetric positive definite),
    t0_ns: epoch of x0 (int ns). Keyword options: process (``gnc.nav.process``; HCW(n) by default),
    angles_R_diag [rad^2, rad^2], relpos_R_diag [m^2] * 3, range_bias_sigma_m (adds the range-bias
    state with this prior sigma) and range_bias_psd (m^2/s, its random walk), angle_bias_sigma_rad and
    angle_bias_psd (rad^2/s): the same for azimuth and elevation bias states (needs the range bias),
    thrust_scale_sigma (-): adds a constant thrust-scale state s with this prior sigma, the held acceleration
    acting as (1 + s) u (needs the three bias states; ``ekf_kernels.thrust_scale_coupling_inplace``),
    accel_state_sigma_m_s2 (m/s^2) and accel_state_tau_s (s): adds an unmodelled-acceleration state d (3, H), first-
    order Gauss-Markov of that steady-state sigma and correlation time, v_dot += d, accel_R_diag [(m/s^2)^2] * 3:
    the specific-force measurement's noise (needs d; the execution error of its u is added), history_ns (late
    measurements, see module doc), reinit_after (0: never), reinit_vel_sigma_m_s, thrust_noise_frac (-)
    and thrust_noise_dir_rad (rad): 1-sigma execution errors of the held acceleration along it (scale)
    and across it (misalignment), constant over each prediction interval, input_accel_sigma_m_s2 (m/s^2): the
    same for an error of 1-sigma per Hill axis whatever the acceleration (a measured one: an accelerometer's
    mean over the interval) (``ekf_kernels.thrust_noise_add_inplace``; 0: none).
    """

    def __init__(self, *args, **options):
        super().__init__(*args, **options)
        # no-op call (predict nor update, u unchanged) to get the compiled entry point
        self._kernel = _entry_point(ekf_step, self._w, -1, -1, 0.0, 0.0, 0.0, -2, self._u)
        self._kernel_dt = _entry_point(ekf_step_dt, self._w, 0, -1, 0.0, 0.0, 0.0, 0, self._u)
        # update_predict needs two calls with a history, a time-varying process (one model slot), or when a
        # rejection would re-initialise (at the measurement time, before the prediction): the one-call path
        # is taken while the rejection streak is below _one_call_streak
        self._nonlinear = hasattr(self._process, "propagate_points")  # the state through the model (``_predict``)
        two_calls = bool(self._history_ns) or not self._process.time_invariant or self._nonlinear
        self._one_call_streak = (0 if two_calls else self._reinit_after - 1 if self._reinit_after else math.inf)

    def _predict(self, dt_ns):
        if not self._nonlinear:
            self._kernel(self._w, self._slot(dt_ns), -1, 0.0, 0.0, 0.0, -2, self._u)
            return
        # nonlinear process: the state through the model (acceleration (1 + s) u with the thrust-scale state),
        # the covariance through the kernel's linearisation
        x0 = self._x[:6].reshape(1, 6).copy()
        u = self._accel_u(self._u)
        self._kernel(self._w, self._slot(dt_ns), -1, 0.0, 0.0, 0.0, -2, self._u)
        self._x[:6] = self._process.propagate_points(x0, self._t_ns, dt_ns, u)[0]

    def _step(self, meas, dt_ns):
        """Predict over dt_ns and update with meas: one ``ekf_step`` call; returns its signed NIS."""
        slot = -1
        if dt_ns and self._nonlinear:
            self._predict(dt_ns)
        elif dt_ns:
            slot = self._slots.get(dt_ns)
            if slot is None:
                slot = self._load_slot(dt_ns)
        kind, z0, z1, z2, self._m = self._fields(meas)
        return self._kernel(self._w, slot, kind, z0, z1, z2, -2, self._u)

    def _fields(self, meas):
        """(kind, z0, z1, z2, m): meas as ``ekf_step`` takes it, and its number of components."""
        if type(meas) is RaeMeasurement:
            return MEAS_RAE, meas.range_m, meas.az_rad, meas.el_rad, 3
        kind = self._kind(meas)
        z = meas.as_array()
        return kind, z[0], z[1], z[-1], z.shape[0]

    def update_predict(self, meas, t_ns, accel_H) -> float:
        """``update(meas)`` then ``predict_to(t_ns, accel_H)`` in one kernel call (same result); returns the
        signed NIS (see the base class). Falls back to the two calls where one kernel call cannot do both
        (late measurement, an interval whose model is not loaded, history kept, time-varying process, a
        rejection that would re-initialise)."""
        one_call = self._streak < self._one_call_streak and type(t_ns) is int
        if one_call and type(meas) is RaeMeasurement:  # the executive's usual sample: ``_fields`` inline
            t_m = meas.t_ns
            try:
                r = self._kernel_dt(self._w, t_m - self._t_ns, MEAS_RAE, meas.range_m, meas.az_rad, meas.el_rad,
                                    t_ns - t_m, accel_H)
            except TypeError:  # accel_H not a contiguous float64 array (refused before the kernel ran)
                return super().update_predict(meas, t_ns, accel_H)
            if r >= 0.0:  # accepted: the usual case's bookkeeping inline
                self._t_ns = t_ns
                self._streak = 0
                self._m = 3
                self._offered(meas)
                return r
            return self._after_one_call(meas, t_ns, accel_H, r, 3)
        if not one_call:
            return super().update_predict(meas, t_ns, accel_H)
        t_m = meas.t_ns
        kind, z0, z1, z2, m = self._fields(meas)
        try:
            r = self._kernel_dt(self._w, t_m - self._t_ns, kind, z0, z1, z2, t_ns - t_m, accel_H)
        except TypeError:
            return super().update_predict(meas, t_ns, accel_H)
        return self._after_one_call(meas, t_ns, accel_H, r, m)

    def _after_one_call(self, meas, t_ns, accel_H, r, m):
        """``update_predict``'s bookkeeping after ``ekf_step_dt`` returned r for meas of m components; the two
        calls instead when it refused (an interval without a loaded model, or a late measurement)."""
        if r != r and self._w[PG_GATE, 1, 2]:
            return _RelNavBase.update_predict(self, meas, t_ns, accel_H)
        self._m = m
        st = self._offered(meas)
        self._t_ns = t_ns
        if r >= 0.0:
            if type(meas) is not SpecificForceMeasurement:  # as ``update``: says nothing of the position
                self._streak = 0
        else:
            self._rejected(meas, st)
        return r


class RelNavUKF(_RelNavBase):
    """UKF (``gnc.nav.ukf_kernels``) with the same configuration as RelNavFilter, plus the scaled
    sigma-point parameters alpha (in (0, 1]), beta, kappa. With a nonlinear process (``NermProcess``)
    the sigma points go through the nonlinear model."""

    def __init__(self, *args, alpha=0.5, beta=2.0, kappa=0.0, **options):
        if options.get("thrust_scale_sigma") is not None:
            raise ValueError("RelNavUKF: thrust_scale_sigma (the thrust-scale state) is an EKF option")
        if options.get("accel_state_sigma_m_s2") is not None and hasattr(options.get("process"), "propagate_points"):
            raise ValueError("RelNavUKF: accel_state_sigma_m_s2 (the state d) needs a linear process (hcw, ya)")
        super().__init__(*args, **options)
        if not (0.0 < alpha <= 1.0):
            raise ValueError(f"RelNavUKF: alpha must be in (0, 1], got {alpha}")
        self._Wm, self._Wc, self._lam = ukf_weights(self._nx, float(alpha), float(beta), float(kappa))

    def _predict(self, dt_ns):
        Phi, Gam, Q = self._slot_views[self._slot(dt_ns)]
        Q = Q + thrust_process_noise(Gam, self._u, *self._thrust_var)
        x, P = self._x.copy(), self._P.copy()
        if hasattr(self._process, "propagate_points"):
            X, ok = ukf_sigma_points(x, P, self._lam)
            if ok:
                Y = X.copy()
                Y[:, :6] = self._process.propagate_points(X[:, :6].copy(), self._t_ns, dt_ns, self._u)
                xn, Pn = ukf_moments(Y, self._Wm, self._Wc, Q)
        else:
            xn, Pn, ok = ukf_predict_linear(x, P, Phi, Gam, self._u, Q, self._Wm, self._Wc, self._lam)
        if not ok:
            raise FloatingPointError(f"RelNavUKF: covariance lost positive definiteness at t_ns={self._t_ns}")
        self._x[:], self._P[:, :] = xn, Pn

    def _step(self, meas, dt_ns):
        """Predict over dt_ns and update with meas; returns the signed NIS (as ``ekf_step``)."""
        if dt_ns:
            self._predict(dt_ns)
        kind = self._kind(meas)
        z = meas.as_array()
        m = self._m = z.shape[0]
        R = self._R[kind]
        if kind == MEAS_ACCEL:
            R = np.empty((6, 3))
            accel_meas_cov_into(R, self._R[kind], self._lay_u, *self._thrust_var[:2])
            R = R[:3].copy()
        xn, Pn, y, S, nis, accepted = ukf_update_layout(self._x.copy(), self._P.copy(), z, R, self._gate[kind], kind,
                                                        self._Wm, self._Wc, self._lam, self._lay)
        self._y[:], self._S[:, :] = np.nan, np.nan
        self._y[:m], self._S[:m, :m] = y, S
        if accepted:
            self._x[:], self._P[:, :] = xn, Pn
        return nis if accepted else -nis


def filter_from_config(n_rad_s, nav, x0, P0, t0_ns, process=None) -> RelNavFilter:
    """The flight EKF for a ``gnc.config.NavConfig`` nav: RAE noise (range_sigma_m, angle_sigma_rad), gate,
    q_psd_m2_s3, thrust_noise_frac / thrust_noise_dir_rad, range/angle bias states when
    range_bias_sigma_m / angle_bias_sigma_rad > 0 (constant biases), a thrust-scale state when
    thrust_scale_sigma > 0, a history of history_s for late samples, the camera's and the relative GNSS's noise
    models when camera_angle_sigma_rad / rel_gnss_sigma_m > 0, an unmodelled-acceleration state d when
    accel_state_sigma_m_s2 > 0 and the specific-force measurement's noise when specific_force_noise_density > 0
    (``specific_force_variance``), or with thrust_input = 'imu' that variance as the input's
    (input_accel_sigma_m_s2). x0 (6,), P0 (6x6) at t0_ns.
    process: the model of nav.process (``gnc.nav.process.process_from_config``), needed unless it is 'hcw'."""
    if process is None and nav.process != "hcw":
        raise ValueError(f"nav.process = {nav.process!r}: pass process=process_from_config(flight_config)")
    opts = {}
    if nav.camera_angle_sigma_rad > 0.0:
        opts["angles_R_diag"] = np.full(2, nav.camera_angle_sigma_rad ** 2)
    if nav.rel_gnss_sigma_m > 0.0:
        opts["relpos_R_diag"] = np.full(3, nav.rel_gnss_sigma_m ** 2)
    if nav.range_bias_sigma_m > 0.0:
        opts["range_bias_sigma_m"] = nav.range_bias_sigma_m
    if nav.angle_bias_sigma_rad > 0.0:
        opts["angle_bias_sigma_rad"] = nav.angle_bias_sigma_rad
    if nav.thrust_scale_sigma > 0.0:
        opts["thrust_scale_sigma"] = nav.thrust_scale_sigma
    if nav.accel_state_sigma_m_s2 > 0.0:
        opts["accel_state_sigma_m_s2"] = nav.accel_state_sigma_m_s2
        opts["accel_state_tau_s"] = nav.accel_state_tau_s
    if nav.thrust_input == "imu":  # the accelerometer's mean as the input, not as a measurement
        opts["input_accel_sigma_m_s2"] = math.sqrt(specific_force_variance(nav))
    elif nav.specific_force_noise_density > 0.0:
        opts["accel_R_diag"] = np.full(3, specific_force_variance(nav))
    return RelNavFilter(n_rad_s, nav.q_psd_m2_s3,
                        np.array([nav.range_sigma_m, nav.angle_sigma_rad, nav.angle_sigma_rad]) ** 2,
                        nav.gate_chi2, x0, P0, t0_ns, thrust_noise_frac=nav.thrust_noise_frac,
                        thrust_noise_dir_rad=nav.thrust_noise_dir_rad, history_ns=round(nav.history_s * _NS_PER_S),
                        process=process, **opts)


def specific_force_variance(nav) -> float:
    """Variance per Hill axis ((m/s^2)^2) of a nav period's mean specific force for a ``gnc.config.NavConfig``
    nav: white noise of velocity random walk N averaged over the period T, N^2 / T (any number of samples over
    T), plus the declared floor (chaser drag, SRP: what the accelerometer sees and the model of u + d does not)
    and the accelerometer bias left after the FDIR's estimate, both as white noise (a constant bias is in truth
    not white: the filter then reads it as d)."""
    return (nav.specific_force_noise_density ** 2 / nav.period_s + nav.specific_force_floor_m_s2 ** 2
            + nav.specific_force_bias_m_s2 ** 2)


def initial_covariance(nav, r_CT_H) -> np.ndarray:
    """The prior covariance (6x6, [m, m/s], H) of a ``gnc.config.NavConfig`` nav about the position r_CT_H (m, H):
    init_vel_sigma_m_s per velocity axis; init_pos_sigma_m per position axis, or with init_los_sigma_rad > 0
    init_pos_sigma_m along the line of sight and |r_CT_H| init_los_sigma_rad across it."""
    P0 = np.diag(np.array([nav.init_pos_sigma_m] * 3 + [nav.init_vel_sigma_m_s] * 3, dtype=np.float64) ** 2)
    if nav.init_los_sigma_rad > 0.0:
        rng = float(np.linalg.norm(r_CT_H))
        u = np.asarray(r_CT_H, dtype=np.float64) / rng
        cross = (rng * nav.init_los_sigma_rad) ** 2
        P0[:3, :3] = cross * np.eye(3) + (nav.init_pos_sigma_m ** 2 - cross) * np.outer(u, u)
    return P0
