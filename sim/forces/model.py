"""The truth's force model: switches and parameters of target (spacecraft 0) and chaser (1), and its kernel.

Gravity is shared by both spacecraft: point mass (+ J2) with ``sim.gravity``'s constants, or EGM2008
spherical harmonics to a chosen degree and order evaluated in the Earth-fixed frame (``sim.forces.earth``
states the rotation model), plus optionally the Sun and the Moon as third bodies. A switch that acted on
one spacecraft only would just inject a fake differential acceleration of the size of the force itself,
so gravity switches are global. Drag (NRLMSIS 2.1) and solar radiation pressure are per spacecraft, each
with its own Cd A/m or Cr A/m, so differential drag and SRP show.

The kernels take two arrays (``ForceModel.kernel_arrays``; two, not ten, because every array a numba call
passes costs reference counting in the integrator's inner loop):
  p (P_SIZE,): global parameters P_*, then per spacecraft i the block at P_SC + i * SC_SIZE (SC_* offsets:
     switches, Cd A/m, Cr A/m and the density sample rho0 (kg/m^3) at radius r0 (m) and time t0 (s) with
     scale height H (m) and the drift c1 (1/s), c2 (1/s^2) of its log along the orbit (``sim.forces.density``):
     rho = rho0 exp(-(|r| - r0) / H + c1 tau + c2 tau^2), tau = t - t0), then the Sun and Moon at both
     ends of the current step (P_EPH + EPH_*).
  G (6, K, K): the field's planes (``sim.forces.harmonics``), work planes included.
"""

import functools
import math

import numpy as np
from numba import njit

from sim.forces.atmosphere import NrlmsisDensity
from sim.forces.earth import OMEGA_EARTH, Epoch
from sim.forces.ephemeris import moon_position, sun_position
from sim.forces.harmonics import EGM2008_PATH, GravityField, accel_harmonics, load_gfc
from sim.forces.perturbations import GM_MOON, GM_SUN, drag, srp, third_body
from sim.gravity import J2_EARTH, MU_EARTH, R_EARTH, accel_twobody_j2_xyz

P_MU, P_RREF, P_NMAX, P_J2, P_THIRD, P_SUN, P_ERA0, P_OMEGA, P_T0, P_SC = range(10)
SC_DRAG, SC_CDA_M, SC_SRP, SC_CRA_M, SC_RHO0, SC_RHO_R0, SC_RHO_H, SC_RHO_T0, SC_RHO_C1, SC_RHO_C2, SC_SIZE = range(11)
P_EPH = P_SC + 2 * SC_SIZE
# Sun at ta, Sun at tb, Moon at ta, Moon at tb (m, N), then ta, tb (s)
EPH_SUN_A, EPH_SUN_B, EPH_MOON_A, EPH_MOON_B, EPH_TA, EPH_TB = 0, 3, 6, 9, 12, 13
P_SIZE = P_EPH + 14
_CENTURY_S = 86400.0 * 36525.0


@functools.lru_cache(maxsize=8)
def egm2008(degree: int) -> GravityField:
    """EGM2008 (``sim/data/EGM2008_120.gfc``) to degree and order ``degree``, read once per degree."""
    return load_gfc(EGM2008_PATH, degree)


class ForceModel:
    """Forces on target (0) and chaser (1); see the module docstring.

    epoch: sim.forces.earth.Epoch of t = 0 (needed by harmonics, Sun/Moon, SRP and drag; None for point
    mass + J2). field: GravityField (its own GM and radius) or None for point mass + J2 (j2 True) or point
    mass (False). third_body: Sun and Moon. srp, drag: per spacecraft (pair of bool).
    cr_area_per_mass = Cr A/m, cd_area_per_mass = Cd A/m (m^2/kg), per spacecraft. atmosphere: the
    density model, required when any drag is on.
    """

    def __init__(self, epoch: Epoch | None = None, field: GravityField | None = None, j2: bool = True,
                 third_body: bool = False, srp=(False, False), cr_area_per_mass=(0.0, 0.0), drag=(False, False),
                 cd_area_per_mass=(0.0, 0.0), atmosphere: NrlmsisDensity | None = None):
        self.epoch, self.field, self.atmosphere = epoch, field, atmosphere
        self.third_body, self.srp, self.drag = bool(third_body), tuple(map(bool, srp)), tuple(map(bool, drag))
        if (field is not None or self.third_body or any(self.srp) or any(self.drag)) and epoch is None:
            raise ValueError("harmonics, third bodies, SRP and drag need an epoch")
        if any(self.drag) and atmosphere is None:
            raise ValueError("drag needs a density model (atmosphere)")
        if field is not None and not j2:
            raise ValueError("a spherical-harmonic field includes J2; j2 = False is for point-mass gravity only")
        if min(*cr_area_per_mass, *cd_area_per_mass) < 0:
            raise ValueError("Cr A/m and Cd A/m must be >= 0")
        p = np.zeros(P_SIZE)
        if field is None:
            p[P_MU], p[P_RREF], p[P_J2] = MU_EARTH, R_EARTH, J2_EARTH if j2 else 0.0
        else:
            p[P_MU], p[P_RREF], p[P_NMAX] = field.mu, field.r_ref, field.degree
        p[P_THIRD] = self.third_body
        p[P_SUN] = self.third_body or any(self.srp)
        p[P_OMEGA] = OMEGA_EARTH
        if epoch is not None:
            p[P_ERA0], p[P_T0] = epoch.era_rad, epoch.t_tt_centuries
        for i in range(2):
            b = P_SC + i * SC_SIZE
            p[b + SC_DRAG], p[b + SC_CDA_M] = self.drag[i], cd_area_per_mass[i]
            p[b + SC_SRP], p[b + SC_CRA_M] = self.srp[i], cr_area_per_mass[i]
            p[b + SC_RHO_H] = 1.0  # replaced by the first density sample
        self._p = p
        self._G = field.planes() if field is not None else np.zeros((6, 2, 2))

    @classmethod
    def point_mass_j2(cls, j2: bool) -> "ForceModel":
        """Two-body (+ J2) gravity only, with ``sim.gravity``'s constants."""
        return cls(j2=j2)

    @classmethod
    def from_scenario(cls, scn) -> "ForceModel":
        """The force model of a ``sim.scenario.Scenario``'s [truth] section; the chaser's mass is the true one."""
        tr = scn.truth
        epoch = Epoch(scn.run.epoch_utc)
        masses = (tr.target.mass_kg, scn.vehicle.mass_kg + tr.mass_error_kg)
        bodies = (tr.target, tr.chaser)
        drag = tuple(b.drag for b in bodies)
        return cls(epoch=epoch, field=egm2008(tr.gravity_degree) if tr.gravity_degree >= 2 else None, j2=tr.j2,
                   third_body=tr.third_body, srp=tuple(b.srp for b in bodies),
                   cr_area_per_mass=tuple(b.cr * b.srp_area_m2 / m for b, m in zip(bodies, masses)), drag=drag,
                   cd_area_per_mass=tuple(b.cd * b.drag_area_m2 / m for b, m in zip(bodies, masses)),
                   atmosphere=NrlmsisDensity(epoch, tr.f107_sfu, tr.f107a_sfu, tr.ap) if any(drag) else None)

    @property
    def has_drag(self) -> bool:
        return any(self.drag)

    @property
    def mu(self) -> float:
        """GM of the central gravity (m^3/s^2): the field's, or ``sim.gravity.MU_EARTH``."""
        return float(self._p[P_MU])

    def kernel_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """Fresh (p, G) for one propagation (a run's: p holds its density samples, G its work planes)."""
        return self._p.copy(), self._G.copy()

    def sample_density(self, t_s: float, y: np.ndarray, p: np.ndarray) -> list[tuple[int, float, float, float]]:
        """Write into p the density sample of each spacecraft with drag at t_s for the 12-state y (m, m/s, N),
        with no drift; returns (spacecraft, rho0 kg/m^3, r0 m, H m) of each."""
        idx = [i for i in range(2) if self.drag[i]]
        rho0, h = self.atmosphere.sample(t_s, [y[6 * i:6 * i + 3] for i in idx])
        out = []
        for k, i in enumerate(idx):
            b = P_SC + i * SC_SIZE
            r0 = float(np.linalg.norm(y[6 * i:6 * i + 3]))
            p[b + SC_RHO0], p[b + SC_RHO_H], p[b + SC_RHO_R0], p[b + SC_RHO_T0] = rho0[k], h[k], r0, t_s
            p[b + SC_RHO_C1] = p[b + SC_RHO_C2] = 0.0
            out.append((i, float(rho0[k]), r0, float(h[k])))
        return out

    def accel_N(self, i: int, t_s: float, r_N, v_N, p: np.ndarray, G: np.ndarray) -> np.ndarray:
        """Non-thrust acceleration (m/s^2, N) of spacecraft i at t_s (s since the epoch), r_N (m), v_N (m/s).

        p, G: kernel arrays (``kernel_arrays``) holding the density sample to use; their ephemeris block
        and work planes are scratch and get overwritten.
        """
        set_ephemeris(p, t_s, t_s)
        y = np.concatenate([np.asarray(r_N, dtype=np.float64), np.asarray(v_N, dtype=np.float64)])
        return np.array(accel_spacecraft(i, t_s, y, 0, p, G))

    def describe(self) -> str:
        """One line naming every force on, e.g. for ``gnc scenario check`` and the benchmark."""
        if self.field is None:
            parts = ["point mass + J2" if self._p[P_J2] else "point mass"]
        else:
            parts = [f"{self.field.name} {self.field.degree}x{self.field.degree} (Earth-fixed, ERA rotation)"]
        if self.third_body:
            parts.append("Sun + Moon")
        for name, flags in (("SRP (conical shadow)", self.srp), ("drag (NRLMSIS 2.1)", self.drag)):
            on = [who for who, f in zip(("target", "chaser"), flags) if f]
            if on:
                parts.append(f"{name} on {' and '.join(on)}")
        return ", ".join(parts)


@njit(cache=True)
def _bodies_at(p, t, o):
    """Write the Sun (and, with third bodies, the Moon) at t (s) into p at P_EPH + o, + 6 + o."""
    T = p[P_T0] + t / _CENTURY_S
    p[P_EPH + o], p[P_EPH + o + 1], p[P_EPH + o + 2] = sun_position(T)
    if p[P_THIRD] != 0.0:
        p[P_EPH + 6 + o], p[P_EPH + 7 + o], p[P_EPH + 8 + o] = moon_position(T)


@njit(cache=True)
def set_ephemeris(p, ta, tb):
    """Set p's ephemeris block for the interval [ta, tb] (s): Sun and Moon at both ends (when needed).

    Inside the interval ``accel_spacecraft`` interpolates linearly: the error, h^2/8 times the body's
    geocentric acceleration (2.7e-3 m/s^2 for the Moon), is 3e-4 m at h = 1 s and 1.2 m at 60 s, a
    relative 3e-9 of the lunar distance; the analytic series cost 0.6 us a call, so once per step.
    """
    if p[P_SUN] != 0.0:
        _bodies_at(p, ta, EPH_SUN_A)
        _bodies_at(p, tb, EPH_SUN_B)
    p[P_EPH + EPH_TA], p[P_EPH + EPH_TB] = ta, tb


@njit(cache=True)
def shift_ephemeris(p, tc):
    """Move p's ephemeris block from [ta, tb] to [tb, tc]: the end values become the start ones."""
    if p[P_SUN] != 0.0:
        for c in range(3):
            p[P_EPH + EPH_SUN_A + c] = p[P_EPH + EPH_SUN_B + c]
            p[P_EPH + EPH_MOON_A + c] = p[P_EPH + EPH_MOON_B + c]
        _bodies_at(p, tc, EPH_SUN_B)
    p[P_EPH + EPH_TA], p[P_EPH + EPH_TB] = p[P_EPH + EPH_TB], tc


@njit(cache=True, inline="always")
def _eph(p, start, u, c):
    """Component c of a body interpolated at fraction u of the ephemeris interval (start: EPH_SUN_A or EPH_MOON_A)."""
    a = p[P_EPH + start + c]
    return a + u * (p[P_EPH + start + 3 + c] - a)


@njit(cache=True, inline="always")
def _sun(p, t):
    """The Sun (m, N) at t, interpolated in p's ephemeris interval."""
    span = p[P_EPH + EPH_TB] - p[P_EPH + EPH_TA]
    u = (t - p[P_EPH + EPH_TA]) / span if span > 0.0 else 0.0
    return _eph(p, EPH_SUN_A, u, 0), _eph(p, EPH_SUN_A, u, 1), _eph(p, EPH_SUN_A, u, 2), u


@njit(cache=True, inline="always")
def _drag(b, t, y, o, p):
    """Drag (m/s^2, N) on the spacecraft of parameter block b at y[o:o+6] at t (s), density from its held
    sample, scale height and drift."""
    x, yy, z = y[o], y[o + 1], y[o + 2]
    rn = math.sqrt(x * x + yy * yy + z * z)
    tau = t - p[b + SC_RHO_T0]
    rho = p[b + SC_RHO0] * math.exp(-(rn - p[b + SC_RHO_R0]) / p[b + SC_RHO_H] +
                                    tau * (p[b + SC_RHO_C1] + tau * p[b + SC_RHO_C2]))
    return drag(x, yy, z, y[o + 3], y[o + 4], y[o + 5], rho, p[b + SC_CDA_M], p[P_OMEGA])


@njit(cache=True)
def surface_accel(i, t, y, o, p):
    """(ax, ay, az) (m/s^2, N): SRP + drag on spacecraft i (the non-gravitational part of
    ``accel_spacecraft``, what an accelerometer senses besides thrust); arguments as there."""
    ax = ay = az = 0.0
    b = P_SC + i * SC_SIZE
    if p[b + SC_SRP] != 0.0:
        sx, sy, sz, _ = _sun(p, t)
        ax, ay, az = srp(y[o], y[o + 1], y[o + 2], sx, sy, sz, p[b + SC_CRA_M])
    if p[b + SC_DRAG] != 0.0:
        bx, by, bz = _drag(b, t, y, o, p)
        ax, ay, az = ax + bx, ay + by, az + bz
    return ax, ay, az


@njit(cache=True)
def _perturbations(i, t, y, o, p):
    """(ax, ay, az) (m/s^2, N) of the Sun, Moon, SRP and drag on spacecraft i (see ``accel_spacecraft``).

    Kept out of line: inlined, its code would slow the point-mass path of the integrator by a third.
    """
    x, yy, z = y[o], y[o + 1], y[o + 2]
    ax = ay = az = 0.0
    b = P_SC + i * SC_SIZE
    if p[P_SUN] != 0.0:
        sx, sy, sz, u = _sun(p, t)
        if p[P_THIRD] != 0.0:
            bx, by, bz = third_body(x, yy, z, sx, sy, sz, GM_SUN)
            ax, ay, az = ax + bx, ay + by, az + bz
            bx, by, bz = third_body(x, yy, z, _eph(p, EPH_MOON_A, u, 0), _eph(p, EPH_MOON_A, u, 1),
                                    _eph(p, EPH_MOON_A, u, 2), GM_MOON)
            ax, ay, az = ax + bx, ay + by, az + bz
        if p[b + SC_SRP] != 0.0:
            bx, by, bz = srp(x, yy, z, sx, sy, sz, p[b + SC_CRA_M])
            ax, ay, az = ax + bx, ay + by, az + bz
    if p[b + SC_DRAG] != 0.0:
        bx, by, bz = _drag(b, t, y, o, p)
        ax, ay, az = ax + bx, ay + by, az + bz
    return ax, ay, az


@njit(cache=True, inline="always")
def accel_spacecraft(i, t, y, o, p, G):
    """(ax, ay, az) (m/s^2, N): the non-thrust acceleration of spacecraft i at t (s since the epoch).

    Its position (m, N) is y[o:o+3] and velocity (m/s, N) y[o+3:o+6]; p, G: ``ForceModel.kernel_arrays``
    with an ephemeris interval (``set_ephemeris``) holding t.
    """
    x, yy, z = y[o], y[o + 1], y[o + 2]
    n_max = int(p[P_NMAX])
    if n_max >= 2:
        th = p[P_ERA0] + p[P_OMEGA] * t
        c, s = math.cos(th), math.sin(th)
        ex, ey, ez = accel_harmonics(c * x + s * yy, -s * x + c * yy, z, p[P_MU], p[P_RREF], G, n_max)
        ax, ay, az = c * ex - s * ey, s * ex + c * ey, ez
    else:
        ax, ay, az = accel_twobody_j2_xyz(x, yy, z, p[P_MU], p[P_J2], p[P_RREF])
    if p[P_SUN] != 0.0 or p[P_SC + i * SC_SIZE + SC_DRAG] != 0.0:
        bx, by, bz = _perturbations(i, t, y, o, p)
        ax, ay, az = ax + bx, ay + by, az + bz
    return ax, ay, az
