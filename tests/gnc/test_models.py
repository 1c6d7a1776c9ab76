"""HCW discretisation against scipy's matrix exponential; RAE model round trip and Jacobian."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.linalg import expm

from gnc.models.hcw import hcw_continuous, hcw_input_matrix, hcw_propagate, hcw_stm
from gnc.models.rae import rae_from_rel, rae_jacobian, rel_from_rae, wrap_angle


@settings(max_examples=50, deadline=None)
@given(st.floats(1e-5, 2e-3), st.floats(0.1, 20000))
def test_hcw_discretisation_matches_matrix_exponential(n, dt):
    A, B = hcw_continuous(n)
    M = np.zeros((9, 9))
    M[:6, :6], M[:6, 6:] = A, B
    E = expm(M * dt)
    Phi, Gam = hcw_stm(n, dt), hcw_input_matrix(n, dt)
    assert np.allclose(Phi, E[:6, :6], rtol=1e-8, atol=1e-8 * np.abs(E[:6, :6]).max())
    assert np.allclose(Gam, E[:6, 6:], rtol=1e-6, atol=1e-8 * np.abs(E[:6, 6:]).max())


def test_hcw_semigroup_and_drift():
    n = 1.1e-3
    assert np.allclose(hcw_stm(n, 300) @ hcw_stm(n, 700), hcw_stm(n, 1000), atol=1e-9)
    # Radial offset x0 with vy0 = -2 n x0 is a closed relative orbit (Vallado 4th ed. sec. 6.8): returns after one period
    x0 = np.array([100.0, 0, 0, 0, -2 * n * 100.0, 0])
    assert np.allclose(hcw_propagate(n, 2 * np.pi / n, x0, np.zeros(3)), x0, atol=1e-6)


los = st.tuples(st.floats(-1e4, 1e4), st.floats(-1e4, 1e4), st.floats(-1e4, 1e4)).map(np.array).filter(
    lambda r: np.hypot(r[0], r[1]) > 0.1 * np.linalg.norm(r) + 1.0)


@settings(max_examples=200, deadline=None)
@given(los)
def test_rae_round_trip_and_jacobian(r):
    assert np.allclose(rel_from_rae(rae_from_rel(r)), r, atol=1e-6)
    x = np.concatenate([r, np.zeros(3)])
    H = rae_jacobian(x)
    eps = 1e-4 * max(1.0, np.linalg.norm(r))
    for i in range(3):
        d = np.zeros(3)
        d[i] = eps
        num = rae_from_rel(r + d) - rae_from_rel(r - d)
        num[1] = wrap_angle(num[1])
        assert np.allclose(num / (2 * eps), H[:, i], rtol=1e-4, atol=1e-9)
    assert np.all(H[:, 3:] == 0)
