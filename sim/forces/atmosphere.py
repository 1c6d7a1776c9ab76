"""Atmospheric mass density from NRLMSIS 2.1 (Emmert et al., Earth and Space Science 8, 2021), via pymsis.

pymsis runs the compiled model from Python (about 50 us a call), too slow for every stage of the
integrator. The truth therefore samples it once per integration step at each spacecraft, and 1 km higher
for the local density scale height H, and inside the step uses rho0 exp(-(|r| - |r0|) / H): the vertical
variation within a step is kept, the horizontal and temporal ones over one step (7.6 km, 1 s at the default
step) are held. pymsis computes in float32 (relative resolution 6e-8).

Space weather is the scenario's: F10.7 of the previous day, its 81-day centred mean F10.7a (solar flux
units) and the daily Ap, constant over a run, so pymsis never looks indices up (it would download them).
"""

import math

import numpy as np
import pymsis

from sim.forces.earth import OMEGA_EARTH, Epoch, geodetic_from_ecef, rot_z

SCALE_HEIGHT_DH_M = 1000.0


class NrlmsisDensity:
    """Density sampler for an epoch and constant space weather (f107_sfu, f107a_sfu >= 0, ap >= 0)."""

    def __init__(self, epoch: Epoch, f107_sfu: float, f107a_sfu: float, ap: float):
        self.epoch = epoch
        self.f107, self.f107a, self.ap = float(f107_sfu), float(f107a_sfu), float(ap)
        self._r_E = np.empty(3)
        self._weather: dict[int, tuple] = {}  # pymsis' space-weather input arrays per number of points

    def geodetic(self, t_s: float, r_N: np.ndarray) -> tuple[float, float, float]:
        """(latitude deg, longitude deg, height m) of r_N (m, N) at t_s (s since the epoch), WGS 84."""
        rot_z(self.epoch.era_rad + OMEGA_EARTH * t_s, r_N, self._r_E)
        lat, lon, h = geodetic_from_ecef(self._r_E)
        return math.degrees(lat), math.degrees(lon), h

    def density(self, t_s: float, positions_N) -> np.ndarray:
        """Mass density (kg/m^3) at each position (m, N) at t_s."""
        return self._call(t_s, [self.geodetic(t_s, r) for r in positions_N])

    def sample(self, t_s: float, positions_N) -> tuple[np.ndarray, np.ndarray]:
        """(rho0 kg/m^3, H m) at each position at t_s: density there and its local scale height."""
        geo = [self.geodetic(t_s, r) for r in positions_N]
        rho = self._call(t_s, geo + [(lat, lon, h + SCALE_HEIGHT_DH_M) for lat, lon, h in geo])
        n = len(geo)
        ratio = rho[:n] / rho[n:]
        if not np.all(ratio > 1.0):
            raise ValueError(f"NRLMSIS density does not fall with height at {geo} (ratios {ratio})")
        return rho[:n], SCALE_HEIGHT_DH_M / np.log(ratio)

    def _call(self, t_s: float, geo) -> np.ndarray:
        n = len(geo)
        if n not in self._weather:
            self._weather[n] = (np.full(n, self.f107), np.full(n, self.f107a), np.full((n, 7), self.ap))
        lat, lon, h = (np.array(col) for col in zip(*geo))
        dates = np.full(n, self.epoch.datetime64 + np.timedelta64(round(t_s * 1e9), "ns"))
        out = pymsis.calculate(dates, lon, lat, h / 1e3, *self._weather[n], version=2.1)
        return out[:, pymsis.Variable.MASS_DENSITY].astype(np.float64)
