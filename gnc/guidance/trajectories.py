"""Reference trajectories in the Hill frame, on the HCW model (gnc.models.hcw).

States are [r_CT_H m, v_CT_H m/s]; times are seconds from the segment's start.
"""

import math

import numpy as np
from numba import njit

from gnc.models.hcw import hcw_input_matrix, hcw_stm


@njit(cache=True)
def hcw_transfer_velocity(n, r0, rf, T):
    """Initial velocity (m/s, H) of the free HCW arc from r0 to rf (m) in T (s) (two-impulse transfer).

    Where the arc is singular (T a multiple of the period in-plane, of half the period out of plane),
    the minimum-norm least-squares velocity is returned.
    """
    Phi = hcw_stm(n, T)
    rhs = rf - np.ascontiguousarray(Phi[0:3, 0:3]) @ r0
    v0, _, _, _ = np.linalg.lstsq(np.ascontiguousarray(Phi[0:3, 3:6]), rhs)
    return v0


@njit(cache=True)
def ellipse_state(n, radial_amp, cross_amp, theta):
    """State on the passively safe inspection ellipse at phase theta (rad).

    x = A cos(theta), y = -2 A sin(theta), z = B sin(theta), theta' = n: a closed HCW orbit
    (y' = -2 n x, no drift) whose radial and cross-track motions are in quadrature (parallel
    relative e and i vectors), so sqrt(x^2 + z^2) >= min(A, B) at all times.
    """
    A, B = radial_amp, cross_amp
    s, c = np.sin(theta), np.cos(theta)
    return np.array([A * c, -2 * A * s, B * s, -A * n * s, -2 * A * n * c, B * n * c])


class TransferArc:
    """Free HCW arc from state-position r0 to rf over T seconds, then at rest at rf."""

    def __init__(self, n: float, r0_H: np.ndarray, rf_H: np.ndarray, T_s: float):
        self.n, self.T = n, T_s
        self.rf = np.asarray(rf_H, dtype=float)
        self.x0 = np.concatenate([r0_H, hcw_transfer_velocity(n, np.asarray(r0_H, float), self.rf, T_s)])

    def state(self, t_s: float) -> np.ndarray:
        if t_s >= self.T:
            return np.concatenate([self.rf, np.zeros(3)])
        return hcw_stm(self.n, max(t_s, 0.0)) @ self.x0


class EllipseArc:
    """Inspection ellipse entered at phase theta0 when t = 0."""

    def __init__(self, n: float, radial_amp: float, cross_amp: float, theta0: float):
        self.n, self.A, self.B, self.theta0 = n, radial_amp, cross_amp, theta0

    def state(self, t_s: float) -> np.ndarray:
        return ellipse_state(self.n, self.A, self.B, self.theta0 + self.n * t_s)


class ArcToState:
    """Free HCW arc from r0 reaching the state xf (position and velocity) at T, then following follow."""

    def __init__(self, n: float, r0_H: np.ndarray, follow: EllipseArc, T_s: float):
        self.n, self.T, self.follow = n, T_s, follow
        rf = follow.state(0.0)[:3]
        self.x0 = np.concatenate([r0_H, hcw_transfer_velocity(n, np.asarray(r0_H, float), rf, T_s)])

    def state(self, t_s: float) -> np.ndarray:
        if t_s >= self.T:
            return self.follow.state(t_s - self.T)
        return hcw_stm(self.n, max(t_s, 0.0)) @ self.x0


class PlannedArc:
    """A planned thrust arc (gnc.guidance.plan): states x_H ((M+1), 6) [m, m/s] and accelerations u_H
    (M, 3) m/s^2 held over steps of dt_s starting at t0_s, then the reference `after` (any object with
    state(t)) from t0_s + M dt_s on. Between grid points: the HCW flow under the held acceleration."""

    def __init__(self, n: float, dt_s: float, t0_s: float, x_H: np.ndarray, u_H: np.ndarray, after):
        self.n, self.dt, self.t0 = n, dt_s, t0_s
        self.x, self.u, self.after = x_H, u_H, after
        self.t_end = t0_s + u_H.shape[0] * dt_s

    def _step(self, t_s: float) -> int:
        """Index of the step holding t_s (a grid time, to rounding, opens its own step)."""
        return min(max(math.floor((t_s - self.t0) / self.dt + 1e-6), 0), self.u.shape[0] - 1)

    def state(self, t_s: float) -> np.ndarray:
        if t_s >= self.t_end - 1e-6 * self.dt:
            return self.after.state(t_s)
        k = self._step(t_s)
        tau = max(t_s - (self.t0 + k * self.dt), 0.0)
        return hcw_stm(self.n, tau) @ self.x[k] + hcw_input_matrix(self.n, tau) @ self.u[k]

    def accel(self, t_s: float) -> np.ndarray:
        """Planned acceleration (m/s^2, H) held at t_s; zero outside the plan."""
        if t_s < self.t0 - 1e-6 * self.dt or t_s >= self.t_end - 1e-6 * self.dt:
            return np.zeros(3)
        return self.u[self._step(t_s)]


class ClosingLawApproach:
    """Straight-line final approach along a docking axis with a closing speed that falls with range.

    The chaser moves along the unit axis a_H (from the target outwards) towards the contact point at
    contact_m along it; with s the distance to contact, the closing speed is v_c + k s (v_c: contact
    speed m/s, k: 1/s), so s(t) = (s0 + v_c/k) exp(-k t) - v_c/k until contact at t = T (ISS-style
    profiles close at a few m/min inside 500 m and a few cm/s at contact). Past T the reference presses
    on through the contact point at v_c (capture latches need a contact speed; the phase ends at
    contact). Off V-bar this forced motion needs continuous thrust; the MPC provides it.
    """

    def __init__(self, axis_H: np.ndarray, contact_m: float, s0_m: float, contact_speed_m_s: float, gain_per_s: float):
        self.axis = np.asarray(axis_H, dtype=float) / np.linalg.norm(axis_H)
        self.contact_m, self.s0 = contact_m, max(s0_m, 0.0)
        self.vc, self.k = contact_speed_m_s, gain_per_s
        c = self.vc / self.k if self.k > 0 else math.inf
        self.T = (math.log((self.s0 + c) / c) / self.k) if self.k > 0 else self.s0 / self.vc

    def distance_to_contact(self, t_s: float) -> float:
        """s(t) (m), 0 once contact is reached at t = T."""
        if t_s >= self.T:
            return 0.0
        if self.k == 0:
            return self.s0 - self.vc * t_s
        c = self.vc / self.k
        return (self.s0 + c) * math.exp(-self.k * t_s) - c

    def state(self, t_s: float) -> np.ndarray:
        t = max(t_s, 0.0)
        s = self.distance_to_contact(t) if t < self.T else -self.vc * (t - self.T)
        return np.concatenate([self.axis * (self.contact_m + s), -self.axis * (self.vc + self.k * max(s, 0.0))])
