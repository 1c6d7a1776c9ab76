"""sim.forces.harmonics: the EGM2008 file, and the V/W kernel against an independent evaluation of the
potential (associated Legendre functions from scipy, summed here, differentiated by central differences),
against the J2 closed form, and a Jacobi-integral check of the rotating field in the integrator."""

import math

import numpy as np
import pytest
from scipy.special import lpmv

from sim.forces import Epoch, ForceModel
from sim.forces.harmonics import EGM2008_PATH, accel_harmonics, load_gfc, normalisation
from sim.forces.model import P_ERA0, P_OMEGA, egm2008
from sim.gravity import accel_twobody_j2
from sim.integrator import propagate_forces


def potential_perturbation(r_E, field, degree):
    """U - GM/r (m^2/s^2) of the field to ``degree`` at r_E (m, Earth-fixed), from the normalised
    coefficients: GM/r sum_{n>=2} (R/r)^n sum_m Nnm Pnm(sin phi) (C̄ cos m lam + S̄ sin m lam).

    scipy's lpmv carries the Condon-Shortley phase (-1)^m, which geodesy's Pnm do not.
    """
    x, y, z = r_E
    r = math.sqrt(x * x + y * y + z * z)
    sphi, lam = z / r, math.atan2(y, x)
    total = 0.0
    for n in range(2, degree + 1):
        for m in range(n + 1):
            pnm = (-1) ** m * lpmv(m, n, sphi) * normalisation(n, m)
            total += (field.r_ref / r) ** n * pnm * (field.Cbar[n, m] * math.cos(m * lam)
                                                       + field.Sbar[n, m] * math.sin(m * lam))
    return field.mu / r * total


def kernel_accel(r_E, field, degree):
    G = field.planes()
    return np.array(accel_harmonics(*r_E, field.mu, field.r_ref, G, degree))


def test_egm2008_file_header_and_coefficients():
    """Pavlis et al. (2012): GM 3.986004415e14, a 6378136.3 m, tide-free; C̄20 -0.484165143790815e-3."""
    f = load_gfc(EGM2008_PATH, 20)
    assert (f.name, f.tide_system, f.degree) == ("EGM2008", "tide_free", 20)
    assert f.mu == 3.986004415e14 and f.r_ref == 6378136.3
    assert f.Cbar[2, 0] == -0.484165143790815e-03
    assert f.Cbar[2, 2] == 0.243938357328313e-05 and f.Sbar[2, 2] == -0.140027370385934e-05
    assert f.Cbar[20, 20] == 0.373507214738094e-08 and f.Sbar[20, 20] == -0.126949126479726e-07
    assert f.Cbar[0, 0] == 1.0 and not f.Cbar[1].any() and not f.Sbar[:, 0].any()
    # J2 = -sqrt(5) C̄20 (unnormalised C20 = -J2)
    assert f.C[2, 0] == pytest.approx(-1.0826261738522e-3, rel=1e-12)
    with pytest.raises(ValueError):
        load_gfc(EGM2008_PATH, 71)


@pytest.mark.parametrize("degree", [20, 70])
def test_kernel_is_the_gradient_of_an_independent_potential(degree):
    field = egm2008(degree)
    rng = np.random.default_rng(3)
    worst = 0.0
    for _ in range(8):
        r = rng.normal(size=3)
        r *= rng.uniform(6.6e6, 4.2e7) / np.linalg.norm(r)
        d = 1.0  # m; truncation ~ (d / 2000 km)^2 at degree 20, rounding ~ 1e-16 U / d
        grad = np.array([(potential_perturbation(r + d * e, field, degree)
                          - potential_perturbation(r - d * e, field, degree)) / (2 * d) for e in np.eye(3)])
        pert = kernel_accel(r, field, degree) + field.mu * r / np.linalg.norm(r) ** 3
        worst = max(worst, np.linalg.norm(pert - grad) / np.linalg.norm(pert))
    # measured: 8.7e-9 at degree 20 and 70 (the central differences' rounding), relative to the non-central part
    assert worst < 1e-7, f"largest relative difference {worst:.1e}"


def test_degree_two_zonal_equals_j2_closed_form():
    f = egm2008(2)
    G = f.planes()
    G[1] = 0.0  # S
    G[0, 2, 1] = G[0, 2, 2] = 0.0  # C21, C22: keep C00 and C20
    j2 = -f.C[2, 0]
    for r in ([7e6, -1e6, 2e6], [1e6, 2e6, -6.9e6], [4.2e7, 0.0, 1.0]):
        a = np.array(accel_harmonics(*r, f.mu, f.r_ref, G, 2))
        np.testing.assert_allclose(a, accel_twobody_j2(np.array(r), f.mu, j2, f.r_ref), rtol=1e-13, atol=0)


def test_rotating_field_conserves_the_jacobi_integral():
    """In a uniformly rotating field U(R3(theta(t)) r) the Jacobi integral 1/2|v|^2 - omega (r x v)_z - U is
    constant (derived as for the restricted three-body problem, Murray & Dermott, Solar System Dynamics,
    1999, sec. 3.3): a check of the Earth-fixed evaluation, the rotation model and the integrator together,
    with the independent potential above."""
    field = egm2008(20)
    fm = ForceModel(epoch=Epoch("2025-09-04T00:00:00Z"), field=field)
    p, G = fm.kernel_arrays()
    from gnc.frames import kepler_to_eci

    r0, v0 = kepler_to_eci(field.mu, 6878137.0, 0.01, math.radians(51.6), 0.4, 0.2, 0.3)
    y0 = np.concatenate([r0, v0, r0, v0])

    def jacobi(y, t):
        th = p[P_ERA0] + p[P_OMEGA] * t
        c, s = math.cos(th), math.sin(th)
        r, v = y[0:3], y[3:6]
        r_E = np.array([c * r[0] + s * r[1], -s * r[0] + c * r[1], r[2]])
        u = field.mu / np.linalg.norm(r) + potential_perturbation(r_E, field, 20)
        return 0.5 * v @ v - p[P_OMEGA] * (r[0] * v[1] - r[1] * v[0]) - u

    y, _ = propagate_forces(fm, y0, 0.0, np.zeros(3), 5677.0, 10.0, (p, G))
    j0, j1 = jacobi(y0, 0.0), jacobi(y, 5677.0)
    # measured 4e-16 relative over one orbit at 10 s steps; the two-body energy changes by 2.6e-6
    assert abs(j1 / j0 - 1) < 1e-13, f"Jacobi integral drift {abs(j1 / j0 - 1):.1e}"
    e0 = 0.5 * y0[3:6] @ y0[3:6] - field.mu / np.linalg.norm(y0[0:3])
    e1 = 0.5 * y[3:6] @ y[3:6] - field.mu / np.linalg.norm(y[0:3])
    assert abs(e1 / e0 - 1) > 1e3 * abs(j1 / j0 - 1)
