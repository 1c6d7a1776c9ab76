"""The truth world: target and chaser inertial states under a force model and the chaser's thrust.

States are held in N (``gnc.frames``), m and m/s; time is integer ns since the scenario epoch. The
chaser's thrust is commanded as an acceleration in the target's Hill axes H, saturated per axis. Forces:
``sim.forces.ForceModel`` (point mass + J2 up to EGM2008 harmonics, Sun and Moon, SRP, NRLMSIS drag);
integration: ``sim.integrator`` (fixed-step RK8, landing exactly on every requested time).
"""

import numpy as np
from numba import njit

from gnc.frames import dcm_from_quat, eci_to_hill, hill_dcm_and_rate, hill_to_eci, kepler_to_eci, quat_from_dcm
from sim.forces import ForceModel
from sim.forces.density import DensityTrack
from sim.forces.model import accel_spacecraft, set_ephemeris, surface_accel
from sim.integrator import propagate_forces, step_plan
from sim.rigid_body import B_MASS, TH_D, TH_F, TH_LEVEL, TH_LEVEL_INT, command_thrusters, propagate_6dof


@njit(cache=True)
def hill_snapshot(t, state, p, G, out):
    """The target's Hill frame and the chaser in it at t (s) for the 12-state (``sim.integrator``), written
    into out (15,): C_HN (row-major), r_CT_H (m), v_CT_H (m/s, rotating-frame derivative), the frame rate
    from the target's full non-thrust acceleration (p: ``ForceModel.kernel_arrays``, ephemeris set here)."""
    set_ephemeris(p, t, t)
    a = np.empty(3)
    a[0], a[1], a[2] = accel_spacecraft(0, t, state, 0, p, G)
    C_HN = hill_dcm_and_rate(state[0:3], state[3:6], a)[0]
    r, v = eci_to_hill(state[0:3], state[3:6], state[6:9], state[9:12], a)
    for i in range(3):
        for j in range(3):
            out[3 * i + j] = C_HN[i, j]
        out[9 + i], out[12 + i] = r[i], v[i]


@njit(cache=True)
def surface_accel_B(t, state, q_BN, p):
    """SRP + drag on the chaser of the 12-state at t (s) (m/s^2, B of attitude q_BN, scalar-first); p:
    ``ForceModel.kernel_arrays``' first, its ephemeris set here."""
    set_ephemeris(p, t, t)
    a = np.empty(3)
    a[0], a[1], a[2] = surface_accel(1, t, state, 6, p)
    return dcm_from_quat(q_BN) @ a


def _force_model(forces) -> ForceModel:
    return forces if isinstance(forces, ForceModel) else ForceModel.point_mass_j2(bool(forces))


class TruthWorld:
    """Thin shell over ``sim.integrator.propagate_forces``.

    r_T_N, v_T_N, r_C_N, v_C_N: initial target/chaser position (m) and velocity (m/s) in N at t_ns = 0.
    step_s: maximum integration step (s). forces: a ForceModel, or a bool as shorthand for point mass
    with (True) or without (False) J2. max_accel_m_s2: per-axis limit of the commanded acceleration
    (m/s^2). accel_scale: the truth applies accel_scale x the saturated command (thrust magnitude error
    and a mass the flight code does not know; 1 = perfect).
    Attributes: t_ns (int ns), state (12,) [r_T_N, v_T_N, r_C_N, v_C_N], forces (ForceModel),
    applied_accel_H (last applied, saturated, m/s^2, H), max_local_err_m (largest local truncation error
    estimate of the integrator over the run, m).
    """

    def __init__(self, r_T_N, v_T_N, r_C_N, v_C_N, step_s, forces, max_accel_m_s2, accel_scale=1.0):
        if not step_s > 0:
            raise ValueError(f"step_s must be > 0, got {step_s}")
        if not max_accel_m_s2 >= 0:
            raise ValueError(f"max_accel_m_s2 must be >= 0, got {max_accel_m_s2}")
        if not accel_scale > 0:
            raise ValueError(f"accel_scale must be > 0, got {accel_scale}")
        self.state = np.concatenate([np.asarray(x, dtype=np.float64).reshape(3) for x in (r_T_N, v_T_N, r_C_N, v_C_N)])
        self.step_s = float(step_s)
        self.forces = _force_model(forces)
        self._arrays = self.forces.kernel_arrays()
        self._density = DensityTrack(self.forces) if self.forces.has_drag else None
        if self._density is not None:
            self._density.update(0.0, self.state, self._arrays[0])
        self.max_accel_m_s2 = float(max_accel_m_s2)
        self.accel_scale = float(accel_scale)
        self.t_ns = 0
        self.applied_accel_H = np.zeros(3)
        self.max_local_err_m = 0.0
        self.att = None  # the 6-DOF chaser's [q_BN, omega_BN_B] once attach_rigid_body is called
        self._snap = np.empty(15)  # hill_snapshot at self._snap_t_ns
        self._snap_t_ns = -1

    @classmethod
    def from_elements(cls, a_m, e, inc_rad, raan_rad, argp_rad, nu_rad, r_CT_H, v_CT_H, step_s, forces,
                      max_accel_m_s2, accel_scale=1.0):
        """Target from osculating classical elements (m, -, rad); chaser from its Hill state (m, m/s).

        v_CT_H is the rotating-frame derivative; the frame rate uses the target's full acceleration.
        """
        fm = _force_model(forces)
        r_T_N, v_T_N = kepler_to_eci(fm.mu, a_m, e, inc_rad, raan_rad, argp_rad, nu_rad)
        p, G = fm.kernel_arrays()
        if fm.has_drag:  # only the target's sample matters here: the chaser's slot sees the target's state
            fm.sample_density(0.0, np.concatenate([r_T_N, v_T_N, r_T_N, v_T_N]), p)
        a_T_N = fm.accel_N(0, 0.0, r_T_N, v_T_N, p, G)
        r_C_N, v_C_N = hill_to_eci(r_T_N, v_T_N, np.asarray(r_CT_H, dtype=np.float64),
                                   np.asarray(v_CT_H, dtype=np.float64), a_T_N)
        return cls(r_T_N, v_T_N, r_C_N, v_C_N, step_s, fm, max_accel_m_s2, accel_scale)

    def attach_rigid_body(self, q_BN, omega_BN_B, body, thrusters) -> None:
        """Make the chaser a rigid body (``sim.rigid_body``): attitude q_BN (scalar-first), rate omega_BN_B
        (rad/s, B), ``body_array`` and ``thruster_table`` (true values). From now on advance_to ignores
        accel_H: the thrusters commanded by ``fire`` act, in the body frame, with their torques."""
        self.att = np.concatenate([np.asarray(q_BN, dtype=np.float64), np.asarray(omega_BN_B, dtype=np.float64)])
        self.body, self.thrusters = body, thrusters
        thrusters[:, TH_LEVEL_INT] = 0.0
        self._mean_t_ns = self.t_ns  # start of mean_specific_force_B's interval

    def fire(self, on_time_s) -> None:
        """Open each thruster's valve now for on_time_s[i] (s) (below its minimum pulse: not at all)."""
        command_thrusters(self.thrusters, self.t_ns / 1e9, np.asarray(on_time_s, dtype=np.float64))

    def _hill(self) -> np.ndarray:
        """``hill_snapshot`` now, computed once per time."""
        if self._snap_t_ns != self.t_ns:
            hill_snapshot(self.t_ns / 1e9, self.state, *self._arrays, self._snap)
            self._snap_t_ns = self.t_ns
        return self._snap

    def hill_dcm(self):
        """C_HN of the target's Hill frame now (with its full acceleration)."""
        return self._hill()[0:9].reshape(3, 3).copy()

    def q_BH(self):
        """The chaser's attitude relative to the target's Hill frame (scalar-first, v_B = C_BH v_H)."""
        return quat_from_dcm(dcm_from_quat(self.att[:4]) @ self.hill_dcm().T)

    def thrust_accel_B(self):
        """Thrust acceleration now (m/s^2, B)."""
        th = self.thrusters
        return (th[:, TH_LEVEL] * th[:, TH_F]) @ th[:, TH_D:TH_D + 3] / self.body[B_MASS]

    def specific_force_B(self):
        """The chaser's specific force now (m/s^2, B), what an accelerometer senses: thrust, SRP and drag (with
        the density sample the integrator holds; gravity, the Sun's and Moon's included, is not sensed)."""
        return self.thrust_accel_B() + surface_accel_B(self.t_ns / 1e9, self.state, self.att[:4], self._arrays[0])

    def mean_specific_force_B(self):
        """The chaser's mean specific force (m/s^2, B) over (t_prev, now], t_prev the previous call's time (the
        first: attach_rigid_body's), i.e. an accelerometer's Delta-v / dt; restarts the interval now.

        Thrust: exact for the piecewise-linear valve levels, sum_i F_i d_i int(L_i dt) / (m dt), from the
        integrals the propagation accumulates (``sim.rigid_body`` TH_LEVEL_INT). It is integrated in B, as
        body-fixed accelerometers do, with no coning or sculling correction: B turns by |omega| dt during the
        interval (~1e-3 rad in a second at orbit rate), so this is not C_BN(now) times the inertial Delta-v.
        SRP and drag (~1e-7 m/s^2, varying by ~1e-3 relative in a second): their value now, held over the
        interval (error ~1e-10 m/s^2 over a 1 s interval). An empty interval (dt = 0) gives the instant value,
        ``specific_force_B``."""
        th = self.thrusters
        dt = (self.t_ns - self._mean_t_ns) / 1e9
        if dt == 0.0:
            f = self.specific_force_B()
        else:
            f = (th[:, TH_LEVEL_INT] * th[:, TH_F]) @ th[:, TH_D:TH_D + 3] / (self.body[B_MASS] * dt) + \
                surface_accel_B(self.t_ns / 1e9, self.state, self.att[:4], self._arrays[0])
        th[:, TH_LEVEL_INT] = 0.0
        self._mean_t_ns = self.t_ns
        return f

    @property
    def r_T_N(self):
        return self.state[0:3].copy()

    @property
    def v_T_N(self):
        return self.state[3:6].copy()

    @property
    def r_C_N(self):
        return self.state[6:9].copy()

    @property
    def v_C_N(self):
        return self.state[9:12].copy()

    def accel_N(self, i: int):
        """Spacecraft i's (0 target, 1 chaser) inertial acceleration (m/s^2, N) now under every force of the
        model, thrust excluded, with the density sample the integrator holds."""
        return self.forces.accel_N(i, self.t_ns / 1e9, self.state[6 * i:6 * i + 3], self.state[6 * i + 3:6 * i + 6],
                                   *self._arrays)

    def advance_to(self, t_ns, accel_H):
        """Propagate to t_ns (int ns, >= now) with accel_H (m/s^2, H) saturated per axis, scaled by
        accel_scale, and held."""
        if not isinstance(t_ns, (int, np.integer)):
            raise TypeError(f"t_ns must be an integer number of ns, got {type(t_ns).__name__}")
        t_ns = int(t_ns)
        if t_ns < self.t_ns:
            raise ValueError(f"cannot go back in time: {t_ns} ns < {self.t_ns} ns")
        a = np.asarray(accel_H, dtype=np.float64).reshape(3)
        if not np.isfinite(a).all():
            raise ValueError(f"accel_H must be finite, got {a}")
        if self.att is not None:
            self._advance_6dof(t_ns)
            return
        self.applied_accel_H = np.minimum(np.maximum(a, -self.max_accel_m_s2), self.max_accel_m_s2) * self.accel_scale
        if t_ns > self.t_ns:
            self.state, err = propagate_forces(self.forces, self.state, self.t_ns / 1e9, self.applied_accel_H,
                                               (t_ns - self.t_ns) / 1e9, self.step_s, self._arrays, self._density)
            self.max_local_err_m = max(self.max_local_err_m, err)
            self.t_ns = t_ns

    def _advance_6dof(self, t_ns: int) -> None:
        """advance_to for the rigid-body chaser; applied_accel_H becomes the mean thrust acceleration over the
        interval (m/s^2, H at its end)."""
        if t_ns == self.t_ns:
            return
        dt = (t_ns - self.t_ns) / 1e9
        h, n = step_plan(dt, self.step_s)
        dv = np.zeros(3)
        t0 = self.t_ns / 1e9
        p, G = self._arrays
        if not self.forces.has_drag:
            err = propagate_6dof(self.state, self.att, t0, h, n, p, G, self.thrusters, self.body, dv)
        else:
            err = 0.0
            for step in range(n):
                self._density.update(t0 + step * h, self.state, p)
                err = max(err, propagate_6dof(self.state, self.att, t0 + step * h, h, 1, p, G, self.thrusters,
                                              self.body, dv))
        self.max_local_err_m = max(self.max_local_err_m, err)
        self.t_ns = t_ns
        self.applied_accel_H = self.hill_dcm() @ dv / dt

    def relative_state(self):
        """(r_CT_H m, v_CT_H m/s): chaser relative to target in H, rotating-frame velocity, exact frame rate."""
        s = self._hill()
        return s[9:12].copy(), s[12:15].copy()
