"""The truth world: target and chaser inertial states under two-body (+J2) gravity and chaser thrust.

States are held in N (``gnc.frames``), m and m/s; time is integer ns since the scenario epoch. The
chaser's thrust is commanded as an acceleration in the target's Hill axes H, saturated per axis.
"""

import numpy as np

from gnc.frames import eci_to_hill, hill_to_eci, kepler_to_eci
from sim.gravity import J2_EARTH, MU_EARTH, R_EARTH, accel_twobody_j2
from sim.integrator import propagate


class TruthWorld:
    """Thin shell over ``sim.integrator.propagate``.

    r_T_N, v_T_N, r_C_N, v_C_N: initial target/chaser position (m) and velocity (m/s) in N at t_ns = 0.
    step_s: maximum integration step (s). j2_on: include J2. max_accel_m_s2: per-axis limit of the commanded
    acceleration (m/s^2). accel_scale: the truth applies accel_scale x the saturated command (thrust
    magnitude error and a mass the flight code does not know; 1 = perfect).
    Attributes: t_ns (int ns), state (12,) [r_T_N, v_T_N, r_C_N, v_C_N], applied_accel_H (last applied,
    saturated, m/s^2, H), max_local_err_m (max local position error estimate over the run, m).
    """

    def __init__(self, r_T_N, v_T_N, r_C_N, v_C_N, step_s, j2_on, max_accel_m_s2, accel_scale=1.0):
        if not step_s > 0:
            raise ValueError(f"step_s must be > 0, got {step_s}")
        if not max_accel_m_s2 >= 0:
            raise ValueError(f"max_accel_m_s2 must be >= 0, got {max_accel_m_s2}")
        if not accel_scale > 0:
            raise ValueError(f"accel_scale must be > 0, got {accel_scale}")
        self.state = np.concatenate([np.asarray(x, dtype=np.float64).reshape(3) for x in (r_T_N, v_T_N, r_C_N, v_C_N)])
        self.step_s = float(step_s)
        self.j2_on = bool(j2_on)
        self.max_accel_m_s2 = float(max_accel_m_s2)
        self.accel_scale = float(accel_scale)
        self.t_ns = 0
        self.applied_accel_H = np.zeros(3)
        self.max_local_err_m = 0.0

    @classmethod
    def from_elements(cls, a_m, e, inc_rad, raan_rad, argp_rad, nu_rad, r_CT_H, v_CT_H, step_s, j2_on, max_accel_m_s2,
                      accel_scale=1.0):
        """Target from osculating classical elements (m, -, rad); chaser from its Hill state (m, m/s).

        v_CT_H is the rotating-frame derivative; the frame rate uses the target's actual acceleration.
        """
        r_T_N, v_T_N = kepler_to_eci(MU_EARTH, a_m, e, inc_rad, raan_rad, argp_rad, nu_rad)
        a_T_N = accel_twobody_j2(r_T_N, MU_EARTH, J2_EARTH if j2_on else 0.0, R_EARTH)
        r_C_N, v_C_N = hill_to_eci(r_T_N, v_T_N, np.asarray(r_CT_H, dtype=np.float64),
                                   np.asarray(v_CT_H, dtype=np.float64), a_T_N)
        return cls(r_T_N, v_T_N, r_C_N, v_C_N, step_s, j2_on, max_accel_m_s2, accel_scale)

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

    def target_accel_N(self):
        """The target's inertial acceleration (m/s^2, N): two-body (+J2)."""
        return accel_twobody_j2(self.state[0:3], MU_EARTH, J2_EARTH if self.j2_on else 0.0, R_EARTH)

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
        self.applied_accel_H = np.minimum(np.maximum(a, -self.max_accel_m_s2), self.max_accel_m_s2) * self.accel_scale
        if t_ns > self.t_ns:
            dt_s = (t_ns - self.t_ns) / 1e9
            self.state, err = propagate(self.state, self.applied_accel_H, dt_s, self.step_s, self.j2_on)
            self.max_local_err_m = max(self.max_local_err_m, err)
            self.t_ns = t_ns

    def relative_state(self):
        """(r_CT_H m, v_CT_H m/s): chaser relative to target in H, rotating-frame velocity, exact frame rate."""
        return eci_to_hill(self.state[0:3], self.state[3:6], self.state[6:9], self.state[9:12], self.target_accel_N())
