"""Fixed-step 8th-order Runge-Kutta propagation of target and chaser in the inertial frame N.

State y (12,) = [r_T_N (m), v_T_N (m/s), r_C_N (m), v_C_N (m/s)], N as in ``gnc.frames``; t (s) since the
scenario epoch. Both spacecraft feel the forces of a ``sim.forces.ForceModel``; the chaser also feels a
thrust acceleration accel_H (m/s^2) given in the TARGET's Hill axes and held constant over a call (ideal
attitude), rotated to N with the target's Hill triad at every stage.

Method: the 12-stage, 8th-order Runge-Kutta formula of DOP853 (Hairer, Norsett & Wanner, Solving Ordinary
Differential Equations I, 2nd ed., 1993, sec. II.10; coefficients of their dop853.f) used with a FIXED step
that divides the requested interval exactly, so the truth lands on the flight loop's integer-ns schedule.
Local truncation error: DOP853's estimate from its embedded 5th- and 3rd-order solutions,
err = h |e5|^2 / sqrt(|e5|^2 + 0.01 |e3|^2), over each spacecraft's position (m); the largest is reported.
"""

import math

import numpy as np
from numba import njit

from sim.forces.density import DensityTrack
from sim.forces.model import (P_J2, P_MU, P_NMAX, P_RREF, P_SC, P_SUN, SC_DRAG, SC_SIZE, accel_spacecraft,
                              set_ephemeris, shift_ephemeris)

# Nodes c_1..c_12 (and 1 for the new state), stage matrix a (row s = stage s+1), 8th-order weights b (row 12).
_C = np.array([
    0.0,
    0.526001519587677318785587544488e-01,
    0.789002279381515978178381316732e-01,
    0.118350341907227396726757197510,
    0.281649658092772603273242802490,
    0.333333333333333333333333333333,
    0.25,
    0.307692307692307692307692307692,
    0.651282051282051282051282051282,
    0.6,
    0.857142857142857142857142857142,
    1.0,
    1.0,  # the new state, at t + h
])
_A = np.zeros((13, 12))  # rows 0-11: stages; row 12: the 8th-order weights b
_A[1, 0] = 5.26001519587677318785587544488e-2
_A[2, 0] = 1.97250569845378994544595329183e-2
_A[2, 1] = 5.91751709536136983633785987549e-2
_A[3, 0] = 2.95875854768068491816892993775e-2
_A[3, 2] = 8.87627564304205475450678981324e-2
_A[4, 0] = 2.41365134159266685502369798665e-1
_A[4, 2] = -8.84549479328286085344864962717e-1
_A[4, 3] = 9.24834003261792003115737966543e-1
_A[5, 0] = 3.7037037037037037037037037037e-2
_A[5, 3] = 1.70828608729473871279604482173e-1
_A[5, 4] = 1.25467687566822425016691814123e-1
_A[6, 0] = 3.7109375e-2
_A[6, 3] = 1.70252211019544039314978060272e-1
_A[6, 4] = 6.02165389804559606850219397283e-2
_A[6, 5] = -1.7578125e-2
_A[7, 0] = 3.70920001185047927108779319836e-2
_A[7, 3] = 1.70383925712239993810214054705e-1
_A[7, 4] = 1.07262030446373284651809199168e-1
_A[7, 5] = -1.53194377486244017527936158236e-2
_A[7, 6] = 8.27378916381402288758473766002e-3
_A[8, 0] = 6.24110958716075717114429577812e-1
_A[8, 3] = -3.36089262944694129406857109825
_A[8, 4] = -8.68219346841726006818189891453e-1
_A[8, 5] = 2.75920996994467083049415600797e1
_A[8, 6] = 2.01540675504778934086186788979e1
_A[8, 7] = -4.34898841810699588477366255144e1
_A[9, 0] = 4.77662536438264365890433908527e-1
_A[9, 3] = -2.48811461997166764192642586468
_A[9, 4] = -5.90290826836842996371446475743e-1
_A[9, 5] = 2.12300514481811942347288949897e1
_A[9, 6] = 1.52792336328824235832596922938e1
_A[9, 7] = -3.32882109689848629194453265587e1
_A[9, 8] = -2.03312017085086261358222928593e-2
_A[10, 0] = -9.3714243008598732571704021658e-1
_A[10, 3] = 5.18637242884406370830023853209
_A[10, 4] = 1.09143734899672957818500254654
_A[10, 5] = -8.14978701074692612513997267357
_A[10, 6] = -1.85200656599969598641566180701e1
_A[10, 7] = 2.27394870993505042818970056734e1
_A[10, 8] = 2.49360555267965238987089396762
_A[10, 9] = -3.0467644718982195003823669022
_A[11, 0] = 2.27331014751653820792359768449
_A[11, 3] = -1.05344954667372501984066689879e1
_A[11, 4] = -2.00087205822486249909675718444
_A[11, 5] = -1.79589318631187989172765950534e1
_A[11, 6] = 2.79488845294199600508499808837e1
_A[11, 7] = -2.85899827713502369474065508674
_A[11, 8] = -8.87285693353062954433549289258
_A[11, 9] = 1.23605671757943030647266201528e1
_A[11, 10] = 6.43392746015763530355970484046e-1
_A[12, 0] = 5.42937341165687622380535766363e-2
_A[12, 5] = 4.45031289275240888144113950566
_A[12, 6] = 1.89151789931450038304281599044
_A[12, 7] = -5.8012039600105847814672114227
_A[12, 8] = 3.1116436695781989440891606237e-1
_A[12, 9] = -1.52160949662516078556178806805e-1
_A[12, 10] = 2.01365400804030348374776537501e-1
_A[12, 11] = 4.47106157277725905176885569043e-2

_B = _A[12].copy()
# 8th-order weights minus the embedded 5th- and 3rd-order ones (dop853.f: ER and BHH).
_E5 = np.zeros(12)
_E5[0] = 0.1312004499419488073250102996e-1
_E5[5] = -0.1225156446376204440720569753e+1
_E5[6] = -0.4957589496572501915214079952
_E5[7] = 0.1664377182454986536961530415e+1
_E5[8] = -0.3503288487499736816886487290
_E5[9] = 0.3341791187130174790297318841
_E5[10] = 0.8192320648511571246570742613e-1
_E5[11] = -0.2235530786388629525884427845e-1
_E3 = _B.copy()
_E3[0] -= 0.244094488188976377952755905512
_E3[8] -= 0.733846688281611857341361741547
_E3[11] -= 0.220588235294117647058823529412e-1


@njit(cache=True, inline='always')
def rhs(t, y, accel_H, p, G, k, s):
    """Write dy/dt of the 12-state y at t (s) into k[s]; p, G: ``ForceModel.kernel_arrays`` (ephemeris
    interval holding t)."""
    k[s, 3], k[s, 4], k[s, 5] = accel_spacecraft(0, t, y, 0, p, G)
    k[s, 9], k[s, 10], k[s, 11] = accel_spacecraft(1, t, y, 6, p, G)
    for i in range(3):
        k[s, i] = y[3 + i]
        k[s, 6 + i] = y[9 + i]
    _add_thrust(y, accel_H, k, s)


@njit(cache=True, inline='always')
def _add_thrust(y, accel_H, k, s):
    """Add the chaser's thrust accel_H (m/s^2, target Hill axes) to k[s] in N."""
    if accel_H[0] != 0.0 or accel_H[1] != 0.0 or accel_H[2] != 0.0:
        ax, ay, az = _thrust_N(y[0], y[1], y[2], y[3], y[4], y[5], accel_H)
        k[s, 9] += ax
        k[s, 10] += ay
        k[s, 11] += az


@njit(cache=True, inline='always')
def _thrust_N(rx, ry, rz, vx, vy, vz, accel_H):
    """accel_H (m/s^2, Hill axes of the target at r, v: m, m/s, N) in N."""
    # Target Hill triad (x = r/|r|, z = h/|h|, y = z x x; gnc.frames) inline: no allocation here.
    rn = math.sqrt(rx * rx + ry * ry + rz * rz)
    xx, xy, xz = rx / rn, ry / rn, rz / rn
    hx, hy, hz = ry * vz - rz * vy, rz * vx - rx * vz, rx * vy - ry * vx
    hn = math.sqrt(hx * hx + hy * hy + hz * hz)
    zx, zy, zz = hx / hn, hy / hn, hz / hn
    yx, yy, yz = zy * xz - zz * xy, zz * xx - zx * xz, zx * xy - zy * xx
    return (xx * accel_H[0] + yx * accel_H[1] + zx * accel_H[2],
            xy * accel_H[0] + yy * accel_H[1] + zy * accel_H[2],
            xz * accel_H[0] + yz * accel_H[1] + zz * accel_H[2])


@njit(cache=True, inline='always')
def stage_state(y, k, s, h, y_stage):
    """y_stage = y + h sum_j A[s, j] k[j]: the argument of stage s (the new state for s = 12)."""
    for i in range(y.size):
        y_stage[i] = y[i]
    for j in range(s):
        a = h * _A[s, j]
        if a != 0.0:
            for i in range(y.size):
                y_stage[i] += a * k[j, i]


@njit(cache=True, inline='always')
def rk8_step(t, y, accel_H, h, p, G, k, y_stage, y_new):
    """One step of h (s) from (t, y); k (13, 12) must hold f(t, y) in k[0], p's ephemeris cover [t, t + h].

    Writes the 8th-order state into y_new and f(t + h, y_new) into k[12] (the next step's k[0]); returns
    the local truncation error estimate (m, largest over the two spacecraft's positions).
    """
    n = 12  # the 12-state
    for s in range(1, 13):
        stage_state(y, k, s, h, y_stage)
        rhs(t + _C[s] * h, y_stage, accel_H, p, G, k, s)  # s = 12: f(t + h, y_new); one call site, one inlined copy
    for i in range(n):
        y_new[i] = y_stage[i]
    err = 0.0
    for body in range(2):
        e5 = 0.0
        e3 = 0.0
        for c in range(3):
            i = 6 * body + c
            a5 = 0.0
            a3 = 0.0
            for j in range(12):
                a5 += _E5[j] * k[j, i]
                a3 += _E3[j] * k[j, i]
            e5 += a5 * a5
            e3 += a3 * a3
        if e5 > 0.0:
            err = max(err, abs(h) * e5 / math.sqrt(e5 + 0.01 * e3))
    return err


@njit(cache=True, inline='always')
def step_start(p, t0, step, h):
    """Time (s) of step number step from t0; moves p's ephemeris block onto [t, t + h] after the first."""
    t = t0 + step * h
    if step > 0:
        shift_ephemeris(p, t + h)
    return t


@njit(cache=True)
def rk8_workspace(y, t0, h, accel_H, p, G):
    """(k, y_stage, y_new) for stepping the 12-state y from t0 (s) by h: k[0] = f(t0, y), p's ephemeris set
    for the first step."""
    k = np.empty((13, y.size))
    set_ephemeris(p, t0, t0 + h)
    rhs(t0, y, accel_H, p, G, k, 0)
    return k, np.empty(y.size), np.empty(y.size)

# Flags of the point-mass (+ J2) path: fused multiply-add ('contract'), and no NaN, inf or signed-zero
# handling (the state is finite: ``TruthWorld`` checks its inputs). No reassociation: each stage sum still
# adds its newest stage last, off the critical path. 1.05 times faster than strict IEEE now that the stage sums
# are vectorised (loaded: 1.40 ms an orbit against 1.48, best of 300 alternated; 1.3 times before); results
# differ from ``rk8_step`` at rounding level (tests/sim/test_integrator.py).
_J2_FLAGS = {'contract', 'nsz', 'nnan', 'ninf'}


@njit(cache=True, inline='always', error_model='numpy', fastmath=_J2_FLAGS)
def _accel_j2(x, y, z, mu, j2, r_eq):
    """``sim.gravity.accel_twobody_j2_xyz`` (m/s^2, N at x, y, z m) with one division and one square root,
    the square root last: everything but one multiplication waits on it in parallel."""
    ir2 = 1.0 / (x * x + y * y + z * z)
    f = 1.5 * j2 * r_eq * r_eq * ir2
    m = -mu * ir2
    gxy = m * (1.0 + f * (1.0 - 5.0 * z * z * ir2))
    gz = gxy + 2.0 * m * f
    ir = math.sqrt(ir2)
    g = gxy * ir
    return g * x, g * y, (gz * ir) * z


@njit(cache=True, inline='always', error_model='numpy', fastmath=_J2_FLAGS)
def _rhs_j2(y, accel_H, thrust, mu, j2, r_eq, k, s):
    """``rhs`` under point-mass (+ J2) gravity alone, without the general force model, in _propagate_j2's
    interleaved layout (component c of spacecraft b at 2 c + b): both positions read first, then the two
    independent gravity evaluations. thrust: accel_H is not zero."""
    xt, yt, zt, xc, yc, zc = y[0], y[2], y[4], y[1], y[3], y[5]
    for i in range(6):
        k[s, i] = y[6 + i]
    k[s, 6], k[s, 8], k[s, 10] = _accel_j2(xt, yt, zt, mu, j2, r_eq)
    k[s, 7], k[s, 9], k[s, 11] = _accel_j2(xc, yc, zc, mu, j2, r_eq)
    if thrust:
        ax, ay, az = _thrust_N(xt, yt, zt, y[6], y[8], y[10], accel_H)
        k[s, 7] += ax
        k[s, 9] += ay
        k[s, 11] += az


@njit(cache=True, error_model='numpy', fastmath=_J2_FLAGS)
def _propagate_j2(y, accel_H, h, n_steps, p):
    """``propagate``'s steps of y (in place) under point-mass (+ J2) gravity alone; returns the largest local
    error estimate (m).

    ``rk8_step``'s method with the stage sums unrolled over the tableau's nonzero entries (generated from
    _A, _E5, _E3), the general force model left out and _J2_FLAGS (``gnc bench sim`` times it); equal to ``rk8_step``
    to rounding (``tests/sim/test_integrator.py``). The loop is compiled twice, with and without thrust,
    so the coasting one carries no branch between its stages. y: the 12-state (``propagate``'s; not checked
    here: a check would tell LLVM y.size == 12 and undo the vectorised loops of ``_steps_j2``, 1.9x slower).
    """
    if accel_H[0] != 0.0 or accel_H[1] != 0.0 or accel_H[2] != 0.0:
        return _steps_j2(y, accel_H, h, n_steps, p, True)
    return _steps_j2(y, accel_H, h, n_steps, p, False)


@njit(cache=True, inline='always', error_model='numpy', fastmath=_J2_FLAGS)
def _steps_j2(y, accel_H, h, n_steps, p, thrust):
    """_propagate_j2's loop; thrust (a constant at each call site): accel_H is not zero.

    Each stage's argument is summed in two parts, in ``rk8_step``'s order (oldest stage first), a fused
    multiply-add a term (the same bits as when unrolled whole): the older stages in a loop over
    n = y.size (12) components, a trip count LLVM does not know at compile time, so its loop vectoriser makes
    4-wide (AVX2) code of it instead of unrolling it into scalars; then the newest stage in a loop of constant
    length 12, unrolled into scalar code that reads the newest stage's scalar stores directly (with it in the
    vector loop too, measured slower than all-scalar: a vector load of scalar stores waits for them to reach
    the cache). The error estimate's stage sums run over all n components (three full vectors: faster than
    the six positions with a scalar remainder); only the positions' enter it, as their largest
    |e5|^4 / (|e5|^2 + 0.01 |e3|^2), rooted once at the end.
    """
    mu, j2, r_eq = p[P_MU], p[P_J2], p[P_RREF]
    # h A[s, j], the tableau's nonzero entries
    a1_0 = h * _A[1, 0]
    a2_0, a2_1 = h * _A[2, 0], h * _A[2, 1]
    a3_0, a3_2 = h * _A[3, 0], h * _A[3, 2]
    a4_0, a4_2, a4_3 = h * _A[4, 0], h * _A[4, 2], h * _A[4, 3]
    a5_0, a5_3, a5_4 = h * _A[5, 0], h * _A[5, 3], h * _A[5, 4]
    a6_0, a6_3, a6_4, a6_5 = h * _A[6, 0], h * _A[6, 3], h * _A[6, 4], h * _A[6, 5]
    a7_0, a7_3, a7_4, a7_5, a7_6 = h * _A[7, 0], h * _A[7, 3], h * _A[7, 4], h * _A[7, 5], h * _A[7, 6]
    a8_0, a8_3, a8_4 = h * _A[8, 0], h * _A[8, 3], h * _A[8, 4]
    a8_5, a8_6, a8_7 = h * _A[8, 5], h * _A[8, 6], h * _A[8, 7]
    a9_0, a9_3, a9_4 = h * _A[9, 0], h * _A[9, 3], h * _A[9, 4]
    a9_5, a9_6, a9_7, a9_8 = h * _A[9, 5], h * _A[9, 6], h * _A[9, 7], h * _A[9, 8]
    a10_0, a10_3, a10_4, a10_5 = h * _A[10, 0], h * _A[10, 3], h * _A[10, 4], h * _A[10, 5]
    a10_6, a10_7, a10_8, a10_9 = h * _A[10, 6], h * _A[10, 7], h * _A[10, 8], h * _A[10, 9]
    a11_0, a11_3, a11_4, a11_5 = h * _A[11, 0], h * _A[11, 3], h * _A[11, 4], h * _A[11, 5]
    a11_6, a11_7, a11_8, a11_9, a11_10 = h * _A[11, 6], h * _A[11, 7], h * _A[11, 8], h * _A[11, 9], h * _A[11, 10]
    a12_0, a12_5, a12_6, a12_7 = h * _A[12, 0], h * _A[12, 5], h * _A[12, 6], h * _A[12, 7]
    a12_8, a12_9, a12_10, a12_11 = h * _A[12, 8], h * _A[12, 9], h * _A[12, 10], h * _A[12, 11]
    n = y.size
    k = np.empty((13, n))
    ys = np.empty(n)
    yi = np.empty(n)  # y interleaved: component c (r then v) of spacecraft b at 2 c + b
    part = np.empty(n)  # a stage's sum but its newest term
    e5 = np.empty(n)  # per component: the 8th-order minus the 5th- (e5) and 3rd-order (e3) solutions, / h
    e3 = np.empty(n)
    for b in range(2):
        for c in range(6):
            yi[2 * c + b] = y[6 * b + c]
    _rhs_j2(yi, accel_H, thrust, mu, j2, r_eq, k, 0)
    q_max = 0.0  # largest |e5|^4 / (|e5|^2 + 0.01 |e3|^2) of a spacecraft's position
    for _ in range(n_steps):
        for i in range(12):
            ys[i] = yi[i] + a1_0 * k[0, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 1)
        for i in range(n):
            part[i] = yi[i] + a2_0 * k[0, i]
        for i in range(12):
            ys[i] = part[i] + a2_1 * k[1, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 2)
        for i in range(n):
            part[i] = yi[i] + a3_0 * k[0, i]
        for i in range(12):
            ys[i] = part[i] + a3_2 * k[2, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 3)
        for i in range(n):
            part[i] = yi[i] + a4_0 * k[0, i] + a4_2 * k[2, i]
        for i in range(12):
            ys[i] = part[i] + a4_3 * k[3, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 4)
        for i in range(n):
            part[i] = yi[i] + a5_0 * k[0, i] + a5_3 * k[3, i]
        for i in range(12):
            ys[i] = part[i] + a5_4 * k[4, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 5)
        for i in range(n):
            part[i] = yi[i] + a6_0 * k[0, i] + a6_3 * k[3, i] + a6_4 * k[4, i]
        for i in range(12):
            ys[i] = part[i] + a6_5 * k[5, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 6)
        for i in range(n):
            part[i] = yi[i] + a7_0 * k[0, i] + a7_3 * k[3, i] + a7_4 * k[4, i] + a7_5 * k[5, i]
        for i in range(12):
            ys[i] = part[i] + a7_6 * k[6, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 7)
        for i in range(n):
            part[i] = yi[i] + a8_0 * k[0, i] + a8_3 * k[3, i] + a8_4 * k[4, i] + a8_5 * k[5, i] + a8_6 * k[6, i]
        for i in range(12):
            ys[i] = part[i] + a8_7 * k[7, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 8)
        for i in range(n):
            part[i] = (yi[i] + a9_0 * k[0, i] + a9_3 * k[3, i] + a9_4 * k[4, i] + a9_5 * k[5, i] + a9_6 * k[6, i] +
                       a9_7 * k[7, i])
        for i in range(12):
            ys[i] = part[i] + a9_8 * k[8, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 9)
        for i in range(n):
            part[i] = (yi[i] + a10_0 * k[0, i] + a10_3 * k[3, i] + a10_4 * k[4, i] + a10_5 * k[5, i] +
                       a10_6 * k[6, i] + a10_7 * k[7, i] + a10_8 * k[8, i])
        for i in range(12):
            ys[i] = part[i] + a10_9 * k[9, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 10)
        for i in range(n):
            part[i] = (yi[i] + a11_0 * k[0, i] + a11_3 * k[3, i] + a11_4 * k[4, i] + a11_5 * k[5, i] +
                       a11_6 * k[6, i] + a11_7 * k[7, i] + a11_8 * k[8, i] + a11_9 * k[9, i])
        for i in range(12):
            ys[i] = part[i] + a11_10 * k[10, i]
        _rhs_j2(ys, accel_H, thrust, mu, j2, r_eq, k, 11)
        for i in range(n):
            part[i] = (yi[i] + a12_0 * k[0, i] + a12_5 * k[5, i] + a12_6 * k[6, i] + a12_7 * k[7, i] +
                       a12_8 * k[8, i] + a12_9 * k[9, i] + a12_10 * k[10, i])
        for i in range(12):
            yi[i] = part[i] + a12_11 * k[11, i]  # the new state
        _rhs_j2(yi, accel_H, thrust, mu, j2, r_eq, k, 12)
        for i in range(n):
            e5[i] = (_E5[0] * k[0, i] + _E5[5] * k[5, i] + _E5[6] * k[6, i] + _E5[7] * k[7, i] + _E5[8] * k[8, i] +
                     _E5[9] * k[9, i] + _E5[10] * k[10, i] + _E5[11] * k[11, i])
            e3[i] = (_E3[0] * k[0, i] + _E3[5] * k[5, i] + _E3[6] * k[6, i] + _E3[7] * k[7, i] + _E3[8] * k[8, i] +
                     _E3[9] * k[9, i] + _E3[10] * k[10, i] + _E3[11] * k[11, i])
        for body in range(2):
            s5 = e5[body] * e5[body] + e5[2 + body] * e5[2 + body] + e5[4 + body] * e5[4 + body]
            s3 = e3[body] * e3[body] + e3[2 + body] * e3[2 + body] + e3[4 + body] * e3[4 + body]
            if s5 > 0.0:
                q_max = max(q_max, s5 * s5 / (s5 + 0.01 * s3))
        for i in range(n):
            k[0, i] = k[12, i]
    for b in range(2):
        for c in range(6):
            y[6 * b + c] = yi[2 * c + b]
    return abs(h) * math.sqrt(q_max)


@njit(cache=True)
def propagate(state, t0, accel_H, h, n_steps, p, G):
    """n_steps steps of h (s) from (t0 s, state): returns (new 12-state, largest local error estimate, m).

    accel_H: chaser thrust acceleration (m/s^2, target Hill axes), constant over the call. p, G:
    ``ForceModel.kernel_arrays``; p's ephemeris block is set here.
    """
    y = state.copy()
    if p[P_NMAX] < 2.0 and p[P_SUN] == 0.0 and p[P_SC + SC_DRAG] == 0.0 and p[P_SC + SC_SIZE + SC_DRAG] == 0.0:
        return y, _propagate_j2(y, accel_H, h, n_steps, p)
    k, y_stage, y_new = rk8_workspace(y, t0, h, accel_H, p, G)
    err_max = 0.0
    for step in range(n_steps):
        t = step_start(p, t0, step, h)
        err_max = max(err_max, rk8_step(t, y, accel_H, h, p, G, k, y_stage, y_new))
        for i in range(y.size):
            y[i] = y_new[i]
            k[0, i] = k[12, i]
    return y, err_max


def step_plan(dt_total: float, h_max: float) -> tuple[float, int]:
    """(h, n): the fewest equal steps h <= h_max (s) covering dt_total (s) exactly; (0, 0) for dt_total = 0."""
    if not (dt_total >= 0.0 and h_max > 0.0):
        raise ValueError(f"need dt_total >= 0 and h_max > 0, got {dt_total}, {h_max}")
    if dt_total == 0.0:
        return 0.0, 0
    n = max(1, math.ceil(dt_total / h_max - 1e-9))
    return dt_total / n, n


def propagate_forces(forces, state, t0_s, accel_H, dt_total, h_max, arrays=None, density=None):
    """Propagate the 12-state under ``forces`` (sim.forces.ForceModel) from t0_s by exactly dt_total (s).

    Equal steps no longer than h_max (s). arrays: the (p, G) of ``forces.kernel_arrays()`` to use (a caller
    that propagates repeatedly keeps its own); default fresh ones. density: with drag on, the
    ``sim.forces.density.DensityTrack`` of those arrays (a caller that propagates repeatedly keeps its own),
    updated at the start of every step; default a fresh one. Returns (new state, largest local position
    error estimate, m).
    """
    h, n = step_plan(dt_total, h_max)
    y = np.asarray(state, dtype=np.float64)
    a = np.asarray(accel_H, dtype=np.float64)
    p, G = forces.kernel_arrays() if arrays is None else arrays
    if not forces.has_drag:
        return propagate(y, t0_s, a, h, n, p, G)
    density = DensityTrack(forces) if density is None else density
    err = 0.0
    for step in range(n):
        t = t0_s + step * h
        density.update(t, y, p)
        y, e = propagate(y, t, a, h, 1, p, G)
        err = max(err, e)
    return y, err
