"""Frames: Hypothesis round trips and independent checks (scipy's Rotation for quaternions)."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.transform import Rotation

from gnc.frames import dcm_from_quat, eci_to_hill, hill_dcm_and_rate, hill_to_eci, kepler_to_eci, quat_from_dcm, quat_mult

MU = 3.986004418e14
finite = st.floats(-1e4, 1e4, allow_nan=False)
vec3 = st.tuples(finite, finite, finite).map(np.array)


@st.composite
def orbits(draw):
    a = draw(st.floats(6.6e6, 4.3e7))
    e = draw(st.floats(0, 0.7))
    if a * (1 - e) < 6.5e6:
        e = 0.0
    angles = [draw(st.floats(0, 2 * np.pi)) for _ in range(4)]
    angles[0] = draw(st.floats(0.01, np.pi - 0.01))
    return kepler_to_eci(MU, a, e, *angles)


@settings(max_examples=200, deadline=None)
@given(orbits(), vec3, vec3.map(lambda v: v * 1e-3), vec3.map(lambda v: v * 1e-6))
def test_hill_round_trip(orbit, r_H, v_H, a_T):
    r_T, v_T = orbit
    r_C, v_C = hill_to_eci(r_T, v_T, r_H, v_H, a_T)
    r2, v2 = eci_to_hill(r_T, v_T, r_C, v_C, a_T)
    assert np.allclose(r2, r_H, atol=1e-6)
    assert np.allclose(v2, v_H, atol=1e-9)


@settings(max_examples=100, deadline=None)
@given(orbits())
def test_hill_axes_orthonormal_and_radial(orbit):
    r_T, v_T = orbit
    C, w = hill_dcm_and_rate(r_T, v_T, np.zeros(3))
    assert np.allclose(C @ C.T, np.eye(3), atol=1e-12)
    assert np.isclose(np.linalg.det(C), 1.0)
    assert np.allclose(C @ r_T, [np.linalg.norm(r_T), 0, 0], atol=1e-6)
    h = np.cross(r_T, v_T)
    assert np.isclose(w[2], np.linalg.norm(h) / (r_T @ r_T))


def test_rotating_frame_velocity_of_co_orbiting_point():
    """A chaser on the target's own circular orbit, phased behind, is at rest in H (V-bar equilibrium)."""
    a = 6878137.0
    r_T, v_T = kepler_to_eci(MU, a, 0.0, 0.9, 0.3, 0.0, 0.5)
    r_C, v_C = kepler_to_eci(MU, a, 0.0, 0.9, 0.3, 0.0, 0.5 - 1e-4)
    r, v = eci_to_hill(r_T, v_T, r_C, v_C, np.zeros(3))
    assert r[1] < 0 and abs(v[0]) < 1e-9 and abs(v[1]) < 1e-9 and abs(v[2]) < 1e-9


quats = st.tuples(*[st.floats(-1, 1) for _ in range(4)]).map(np.array).filter(lambda q: np.linalg.norm(q) > 0.1)


@settings(max_examples=300, deadline=None)
@given(quats)
def test_quaternion_dcm_round_trip_against_scipy(q):
    q = q / np.linalg.norm(q)
    C = dcm_from_quat(q)
    # scipy: scalar-last, active rotation matrix; our passive C_BN is its transpose
    C_ref = Rotation.from_quat([q[1], q[2], q[3], q[0]]).as_matrix().T
    assert np.allclose(C, C_ref, atol=1e-12)
    q2 = quat_from_dcm(C)
    assert np.allclose(q2, q, atol=1e-9) or np.allclose(q2, -q, atol=1e-9)


@settings(max_examples=200, deadline=None)
@given(quats, quats)
def test_quaternion_product_composes_dcms(p, q):
    p, q = p / np.linalg.norm(p), q / np.linalg.norm(q)
    # passive composition: C(q_CA) = C(q_CB) C(q_BA) with q_CA = q_BA * q_CB in the Hamilton convention here
    assert np.allclose(dcm_from_quat(quat_mult(q, p)), dcm_from_quat(p) @ dcm_from_quat(q), atol=1e-12)
