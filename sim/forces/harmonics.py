"""Earth gravity as a spherical-harmonic expansion, evaluated in the Earth-fixed frame E.

Coefficients come from an ICGEM ``gfc`` file of fully normalised C̄nm, S̄nm (``sim/data/EGM2008_120.gfc``,
see ``sim/data/README.md``). The kernel sums the gradient of

    U = GM/r sum_{n=0}^{N} sum_{m=0}^{n} (R/r)^n Pnm(sin phi) (Cnm cos(m lambda) + Snm sin(m lambda))

with Cunningham's V/W recursion on unnormalised coefficients (Montenbruck & Gill, Satellite Orbits, 2000,
sec. 3.2.4-3.2.5, eqs. 3.27-3.33). Unnormalised terms stay inside float64 to degree 70, the limit here.
Degree-1 terms are zero (origin at the centre of mass); the n = 0 term is the point mass.
"""

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

MAX_DEGREE = 70
EGM2008_PATH = Path(__file__).resolve().parents[1] / "data" / "EGM2008_120.gfc"
# Planes of the field array G (6, K, K), K >= degree + 2: coefficients, recursion factors, work.
G_C, G_S, G_RA, G_RB, G_V, G_W = range(6)


@dataclass(frozen=True)
class GravityField:
    """A field truncated to degree and order ``degree``.

    mu (m^3/s^2), r_ref (m): the model's GM and reference radius. C, S ((degree+1) x (degree+1)):
    UNnormalised coefficients, C[n, m] for m <= n (zero above the diagonal). Cbar, Sbar: the file's
    fully normalised values, same layout. name, tide_system: from the file header.
    """

    name: str
    tide_system: str
    degree: int
    mu: float
    r_ref: float
    C: np.ndarray
    S: np.ndarray
    Cbar: np.ndarray
    Sbar: np.ndarray

    def planes(self) -> np.ndarray:
        """A fresh field array G (6, degree + 2, degree + 2) for ``accel_harmonics`` (work planes zeroed)."""
        k = self.degree + 2
        G = np.zeros((6, k, k))
        G[G_C, :k - 1, :k - 1], G[G_S, :k - 1, :k - 1] = self.C, self.S
        G[G_RA], G[G_RB] = recursion_factors(self.degree)
        return G


def normalisation(n: int, m: int) -> float:
    """Nnm with Cnm = Nnm C̄nm: sqrt((2 - delta_m0) (2n + 1) (n - m)! / (n + m)!) (M&G eq. 3.24)."""
    return math.sqrt((2 - (m == 0)) * (2 * n + 1) * math.factorial(n - m) / math.factorial(n + m))


def load_gfc(path: str | Path, degree: int) -> GravityField:
    """Read a fully normalised ICGEM gfc file up to ``degree`` (2..70) and order; ValueError if it cannot."""
    if not 2 <= degree <= MAX_DEGREE:
        raise ValueError(f"degree must be in 2..{MAX_DEGREE}, got {degree}")
    header: dict[str, str] = {}
    Cbar = np.zeros((degree + 1, degree + 1))
    Sbar = np.zeros((degree + 1, degree + 1))
    in_body = False
    for line in Path(path).read_text().splitlines():
        parts = line.split()
        if not parts:
            continue
        if not in_body:
            if parts[0] == "end_of_head":
                in_body = True
            elif len(parts) >= 2:
                header[parts[0]] = parts[1]
            continue
        if parts[0] != "gfc":
            continue
        n, m = int(parts[1]), int(parts[2])
        if n <= degree:
            Cbar[n, m] = float(parts[3].replace("d", "e").replace("D", "e"))
            Sbar[n, m] = float(parts[4].replace("d", "e").replace("D", "e"))
    for key in ("earth_gravity_constant", "radius", "max_degree"):
        if key not in header:
            raise ValueError(f"{path}: header lacks {key}")
    # ICGEM format: norm, modelname and tide_system are optional; norm defaults to fully_normalized
    if header.get("norm", "fully_normalized") != "fully_normalized":
        raise ValueError(f"{path}: coefficients must be fully normalised, file says {header['norm']}")
    if int(header["max_degree"]) < degree:
        raise ValueError(f"{path}: holds degree {header['max_degree']} < {degree}")
    nm = np.array([[normalisation(n, m) if m <= n else 0.0 for m in range(degree + 1)] for n in range(degree + 1)])
    return GravityField(name=header.get("modelname", Path(path).stem), tide_system=header.get("tide_system", "unknown"),
                        degree=degree, mu=float(header["earth_gravity_constant"]), r_ref=float(header["radius"]),
                        C=Cbar * nm, S=Sbar * nm, Cbar=Cbar, Sbar=Sbar)


@njit(cache=True)
def accel_harmonics(x, y, z, mu, r_ref, G, n_max):
    """(ax, ay, az) (m/s^2, E) at (x, y, z) (m, E) of the field (mu, r_ref, G) to degree n_max.

    G (6, K, K), K >= n_max + 2 (``GravityField.planes``): G[G_C], G[G_S] unnormalised Cnm, Snm at [n, m];
    G[G_RA], G[G_RB] the recursion factors (``recursion_factors``); G[G_V], G[G_W] work planes whose entries
    above the diagonal must be zero (this function writes only n >= m).
    """
    r2 = x * x + y * y + z * z
    rho = r_ref * r_ref / r2
    x0, y0, z0 = r_ref * x / r2, r_ref * y / r2, r_ref * z / r2
    top = n_max + 1
    G[G_V, 0, 0] = r_ref / math.sqrt(r2)
    G[G_W, 0, 0] = 0.0
    for m in range(top + 1):
        if m > 0:  # sectorial (M&G eq. 3.29)
            v, w = G[G_V, m - 1, m - 1], G[G_W, m - 1, m - 1]
            G[G_V, m, m] = (2 * m - 1) * (x0 * v - y0 * w)
            G[G_W, m, m] = (2 * m - 1) * (x0 * w + y0 * v)
        v2, w2 = 0.0, 0.0  # V, W at [n - 2, m]: zero above the diagonal
        v1, w1 = G[G_V, m, m], G[G_W, m, m]
        for n in range(m + 1, top + 1):  # zonal and tesseral (eq. 3.30)
            a = G[G_RA, n, m] * z0
            b = G[G_RB, n, m] * rho
            v, w = a * v1 - b * v2, a * w1 - b * w2
            G[G_V, n, m], G[G_W, n, m] = v, w
            v2, w2, v1, w1 = v1, w1, v, w
    ax = ay = az = 0.0
    for n in range(n_max + 1):  # eq. 3.33, m = 0
        c0 = G[G_C, n, 0]
        ax -= c0 * G[G_V, n + 1, 1]
        ay -= c0 * G[G_W, n + 1, 1]
        az -= (n + 1) * c0 * G[G_V, n + 1, 0]
    for m in range(1, n_max + 1):  # eq. 3.33, m > 0
        for n in range(m, n_max + 1):
            c, s = G[G_C, n, m], G[G_S, n, m]
            f = 0.5 * (n - m + 1) * (n - m + 2)
            vp, wp = G[G_V, n + 1, m + 1], G[G_W, n + 1, m + 1]
            vm, wm = G[G_V, n + 1, m - 1], G[G_W, n + 1, m - 1]
            ax += 0.5 * (-c * vp - s * wp) + f * (c * vm + s * wm)
            ay += 0.5 * (-c * wp + s * vp) + f * (-c * wm + s * vm)
            az += (n - m + 1) * (-c * G[G_V, n + 1, m] - s * G[G_W, n + 1, m])
    k = mu / (r_ref * r_ref)
    return k * ax, k * ay, k * az


def recursion_factors(n_max: int) -> tuple[np.ndarray, np.ndarray]:
    """RA[n, m] = (2n - 1)/(n - m), RB[n, m] = (n + m - 1)/(n - m) for n > m, sized (n_max + 2) x (n_max + 2).

    The V/W recursion's coefficients (M&G eq. 3.30), tabulated so the kernel multiplies instead of divides.
    """
    k = n_max + 2
    RA, RB = np.zeros((k, k)), np.zeros((k, k))
    for n in range(k):
        for m in range(n):
            RA[n, m] = (2 * n - 1) / (n - m)
            RB[n, m] = (n + m - 1) / (n - m)
    return RA, RB
