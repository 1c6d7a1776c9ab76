"""gnc.nav.relnav.initial_covariance: the isotropic prior, and the angles-only one (range along the line of sight)."""

import types

import numpy as np

from gnc.nav.relnav import initial_covariance


def nav(los):
    return types.SimpleNamespace(init_pos_sigma_m=250.0, init_vel_sigma_m_s=0.05, init_los_sigma_rad=los)


def test_isotropic_prior_is_diagonal():
    P = initial_covariance(nav(0.0), np.array([0.0, -5000.0, 0.0]))
    assert np.array_equal(P, np.diag([250.0 ** 2] * 3 + [0.05 ** 2] * 3))


def test_line_of_sight_prior_has_the_range_sigma_along_it_and_range_times_angle_across():
    r = np.array([300.0, -4000.0, 1200.0])
    P = initial_covariance(nav(1e-3), r)
    w, V = np.linalg.eigh(P[:3, :3])
    cross = (np.linalg.norm(r) * 1e-3) ** 2
    np.testing.assert_allclose(w, [cross, cross, 250.0 ** 2], rtol=1e-12)
    np.testing.assert_allclose(abs(V[:, 2] @ r) / np.linalg.norm(r), 1.0, rtol=1e-12)
    assert np.array_equal(P[3:, 3:], np.diag([0.05 ** 2] * 3)) and not P[:3, 3:].any()
