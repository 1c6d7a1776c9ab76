"""Atmospheric mass density from NRLMSIS 2.1 (Emmert et al., Earth and Space Science 8, 2021), via pymsis.

The compiled model costs ~20 us per horizontal position (it reuses its horizontal terms when only the height
changes), ``pymsis.calculate``'s Python input handling another ~100 us a call: too slow for every stage of the
integrator. The truth therefore samples it at each spacecraft, and 1 km higher for the local density scale
height H, every ``sim.forces.density.RESAMPLE_S`` (that module: how the density is carried between samples,
the vertical variation through rho0 exp(-(|r| - |r0|) / H), the horizontal and temporal one by a fit in
time). A sample fills pymsis' float32 input table in a numba kernel and calls the model's compiled
routine directly, with the inputs ``pymsis.calculate`` would build (day of year, whole UTC seconds of the
day, geodetic longitude, latitude, height in km, F10.7, F10.7a, Ap; default switches): the same numbers
(``tests/sim/test_forces_drag.py``), at a third of the cost. pymsis computes in float32 (relative
resolution 6e-8).

Space weather is the scenario's: F10.7 of the previous day, its 81-day centred mean F10.7a (solar flux
units) and the daily Ap, constant over a run, so pymsis never looks indices up (it would download them).
"""

import math

import numpy as np
import pymsis
from numba import njit
from pymsis import msis21f

from sim.forces.earth import OMEGA_EARTH, Epoch, geodetic_from_ecef, rot_z

SCALE_HEIGHT_DH_M = 1000.0
_DAY_NS = 86_400 * 1_000_000_000
_RAD2DEG = 180.0 / math.pi  # as math.degrees


@njit(cache=True)
def fill_points(theta, positions_N, dh_m, table):
    """Rows 2k and 2k + 1 of pymsis' (2n, 14) float32 input table: longitude, latitude (deg, WGS 84) and
    height (km) of positions_N[k] (m, N) with the Earth turned by theta (rad), and dh_m (m) above it (next
    to each other: the model reuses its horizontal terms when only the height changes, half the cost).
    Returns whether every value written is finite."""
    n = positions_N.shape[0]
    ok = True
    r_E = np.empty(3)
    for k in range(n):
        rot_z(theta, positions_N[k], r_E)
        lat, lon, h = geodetic_from_ecef(r_E)
        for row, hk in ((2 * k, h), (2 * k + 1, h + dh_m)):
            table[row, 2] = lon * _RAD2DEG
            table[row, 3] = lat * _RAD2DEG
            table[row, 4] = hk / 1e3
            ok = ok and math.isfinite(lat) and math.isfinite(lon) and math.isfinite(hk)
    return ok


class NrlmsisDensity:
    """Density sampler for an epoch and constant space weather (f107_sfu, f107a_sfu >= 0, ap >= 0)."""

    def __init__(self, epoch: Epoch, f107_sfu: float, f107a_sfu: float, ap: float):
        self.epoch = epoch
        self.f107, self.f107a, self.ap = float(f107_sfu), float(f107a_sfu), float(ap)
        self._r_E = np.empty(3)
        self._tables: dict[int, np.ndarray] = {}  # pymsis input table per number of points
        self._options = pymsis.msis.create_options()  # the defaults pymsis.calculate uses
        year = epoch.datetime64.astype("datetime64[Y]")
        self._ns_in_year = int((epoch.datetime64 - year.astype("datetime64[ns]")).astype(np.int64))
        self._year_ns = int(((year + 1).astype("datetime64[ns]") - year.astype("datetime64[ns]")).astype(np.int64))

    def geodetic(self, t_s: float, r_N: np.ndarray) -> tuple[float, float, float]:
        """(latitude deg, longitude deg, height m) of r_N (m, N) at t_s (s since the epoch), WGS 84."""
        rot_z(self.epoch.era_rad + OMEGA_EARTH * t_s, r_N, self._r_E)
        lat, lon, h = geodetic_from_ecef(self._r_E)
        return math.degrees(lat), math.degrees(lon), h

    def density(self, t_s: float, positions_N) -> np.ndarray:
        """Mass density (kg/m^3) at each position (m, N) at t_s."""
        return self._model(t_s, positions_N, 0.0)[0::2]

    def sample(self, t_s: float, positions_N) -> tuple[np.ndarray, np.ndarray]:
        """(rho0 kg/m^3, H m) at each position at t_s: density there and its local scale height."""
        rho = self._model(t_s, positions_N, SCALE_HEIGHT_DH_M)
        ratio = rho[0::2] / rho[1::2]
        if not np.all(ratio > 1.0):
            raise ValueError(f"NRLMSIS density does not fall with height at {list(positions_N)} at t = {t_s} s "
                             f"(ratios {ratio})")
        return rho[0::2], SCALE_HEIGHT_DH_M / np.log(ratio)

    def _day_and_seconds(self, t_s: float) -> tuple[float, float]:
        """(day of year 1-366, whole UTC seconds of the day) at t_s, as pymsis.create_input computes them."""
        ns = self._ns_in_year + round(t_s * 1e9)
        if 0 <= ns < self._year_ns:
            return float(ns // _DAY_NS + 1), float((ns % _DAY_NS) // 1_000_000_000)
        d = self.epoch.datetime64 + np.timedelta64(round(t_s * 1e9), "ns")
        day = d.astype("datetime64[D]")
        return (float((day - d.astype("datetime64[Y]")).astype(float) + 1.0),
                float((d.astype("datetime64[s]") - day).astype(float)))

    def _model(self, t_s: float, positions_N, dh_m: float) -> np.ndarray:
        """Density (kg/m^3) at each position and dh_m (m) above it, interleaved (2n values)."""
        pos = np.ascontiguousarray(np.asarray(positions_N, dtype=np.float64).reshape(-1, 3))
        n2 = 2 * pos.shape[0]
        table = self._tables.get(n2)
        if table is None:
            table = self._tables[n2] = np.empty((n2, 14), dtype=np.float32, order="F")
            table[:, 5], table[:, 6], table[:, 7:] = self.f107, self.f107a, self.ap
        table[:, 0], table[:, 1] = self._day_and_seconds(t_s)
        if not fill_points(self.epoch.era_rad + OMEGA_EARTH * t_s, pos, dh_m, table):
            raise ValueError(f"NRLMSIS input not finite at t = {t_s} s: {list(positions_N)}")
        with pymsis.msis._lock:  # pymsis' own guard of the model's global state; switches set as calculate does
            if msis21f._last_used_options != self._options:
                msis21f.pyinitswitch(self._options, parmpath=pymsis.msis._MSIS_PARAMETER_PATH)
                msis21f._last_used_options = self._options
            out = msis21f.pymsiscalc(table[:, 0], table[:, 1], table[:, 2], table[:, 3], table[:, 4], table[:, 5],
                                     table[:, 6], table[:, 7:])
        return out[:, pymsis.Variable.MASS_DENSITY].astype(np.float64)
