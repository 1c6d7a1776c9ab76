"""`gnc bench sim`: truth propagation speed, against Basilisk at the same step and force model, and the
default scenario's real-time factor with every force model on.

propagate_us_per_orbit_j2: ``sim.integrator.propagate_forces`` of target and chaser (12-state, point mass
+ J2, fixed RK8 step STEP_S) over one orbit of the default scenario's 500 km orbit, best of 20 x REPEATS
(an orbit takes ~1.5 ms: 20 runs a repeat so that a burst of other work on the machine cannot fill them all).
basilisk_us_per_orbit_j2: Basilisk (pip ``bsk``) propagating the same two spacecraft over the same orbit,
same step, same gravity (point mass + J2 as its spherical harmonics to degree 2, same GM, radius, J2),
with its default fixed-step RK4 (4 force evaluations a step; ours are 12), timing ``ExecuteSimulation``
only, best of 3 x REPEATS (~0.5 s a repeat); basilisk_rkf78_us_per_orbit_j2: its 8th-order RKF78 with
tolerances so loose that it takes exactly one step per task step (13 evaluations a step), the method closest
to ours. speedup_vs_basilisk: Basilisk's time (its default, RK4) over ours, each repeat's pair timed back to
back, the median over the REPEATS pairs (this shared machine's speed drifts by 30 % over minutes: a ratio of
the two overall bests can pair a fast minute of one with a slow minute of the other);
speedup_vs_basilisk_rkf78 likewise. j2_agreement_vs_basilisk_m: largest final position difference of the
two spacecraft between ours and Basilisk's RK4 run. Basilisk figures appear only where it is installed.
propagate_us_per_orbit_full: the same orbit with every force of the default scenario (EGM2008 20x20,
Sun and Moon, SRP and NRLMSIS drag on both, NRLMSIS sampled every ``sim.forces.density.RESAMPLE_S``),
through ``sim.truth.TruthWorld`` in 1 s calls as the closed loop makes them; truth_realtime_factor: orbit period / that wall time.
truncation_err_m_per_orbit_j2: position difference after one orbit between steps STEP_S and STEP_S / 2
(RK8 error ~h^8: the STEP_S result's own error); truncation_estimate_max_m: the integrator's largest
local error estimate on that orbit.
scenario_realtime_factor: ``gnc run`` of scenarios/inspection.toml (every force model on, 6-DOF chaser on
its thrusters) without plots: simulated time / wall time of the whole closed loop (flight software
included); scenario_realtime_factor_3dof: the same run just before it with the 3-axis chaser of ideal
attitude (no [thrusters], [attitude], [imu], [star_tracker]); scenario_truth_share:
the fraction of that wall time the truth takes (scenario_sim_s / truth_realtime_factor / scenario_wall_s).
"""

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from gnc.frames import hill_to_eci, kepler_to_eci
from sim.forces import ForceModel
from sim.gravity import J2_EARTH, MU_EARTH, R_EARTH
from sim.integrator import propagate_forces
from sim.scenario import load_scenario
from sim.truth import TruthWorld

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "inspection.toml"
STEP_S = 1.0
REPEATS = 5


def basilisk_propagate(states0, duration_s, step_s, mu, r_ref, cbar, sbar, degree, rotation=None, rkf78=False):
    """Final (r, v) (m, m/s, N) of each initial (r, v) in states0 after duration_s, propagated by Basilisk.

    Gravity: spherical harmonics to ``degree`` with fully normalised cbar, sbar ([n][m] arrays), GM mu
    (m^3/s^2), radius r_ref (m); every spacecraft its own Basilisk Spacecraft, fixed task step step_s
    (s). rotation: None (Basilisk's planet-fixed frame = N) or (era0_rad, omega_rad_s): the Earth turns as
    ``sim.forces.earth`` has it; the orientation message is rewritten every task step (Basilisk itself
    extrapolates it linearly inside a step: gravityEffector.cpp, GravBodyData::computeGravityInertial).
    rkf78: Basilisk's RKF78 with tolerances loose enough for one step per task step, else its RK4.
    Returns (list of (r, v), wall seconds inside ExecuteSimulation).
    """
    from Basilisk.architecture import messaging
    from Basilisk.simulation import gravityEffector, spacecraft, sphericalHarmonicsGravityModel, svIntegrators
    from Basilisk.utilities import SimulationBaseClass, macros

    sim = SimulationBaseClass.SimBaseClass()
    sim.CreateNewProcess("dyn").addTask(sim.CreateNewTask("task", macros.sec2nano(step_s)))
    msg = messaging.SpicePlanetStateMsg()

    def orient(t):
        th = rotation[0] + rotation[1] * t
        c, s, w = math.cos(th), math.sin(th), rotation[1]
        pl = messaging.SpicePlanetStateMsgPayload()
        pl.J20002Pfix = [[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]  # r_Pfix = J20002Pfix r_N
        pl.J20002Pfix_dot = [[-w * s, w * c, 0.0], [-w * c, -w * s, 0.0], [0.0, 0.0, 0.0]]
        msg.write(pl, macros.sec2nano(t))

    keep, scs = [], []  # keep: the SWIG-wrapped models must outlive the run
    for k, (r0, v0) in enumerate(states0):
        sc = spacecraft.Spacecraft()
        sc.ModelTag = f"sc{k}"
        earth = gravityEffector.GravBodyData()
        earth.planetName = "earth"
        earth.mu, earth.radEquator, earth.isCentralBody = mu, r_ref, True
        sh = sphericalHarmonicsGravityModel.SphericalHarmonicsGravityModel()
        sh.muBody, sh.radEquator, sh.maxDeg = mu, r_ref, degree
        sh.cBar = [[float(cbar[n][m]) for m in range(n + 1)] for n in range(degree + 1)]
        sh.sBar = [[float(sbar[n][m]) for m in range(n + 1)] for n in range(degree + 1)]
        earth.gravityModel = sh
        if rotation is not None:
            earth.planetBodyInMsg.subscribeTo(msg)
        sc.gravField.setGravBodies(gravityEffector.GravBodyVector([earth]))
        sc.hub.r_CN_NInit = [float(x) for x in r0]
        sc.hub.v_CN_NInit = [float(x) for x in v0]
        if rkf78:
            integ = svIntegrators.svIntegratorRKF78(sc)
            integ.absTol, integ.relTol = 1e3, 1e3
            sc.setIntegrator(integ)
            keep.append(integ)
        sim.AddModelToTask("task", sc)
        keep += [earth, sh]
        scs.append(sc)
    if rotation is not None:
        orient(0.0)
    sim.InitializeSimulation()
    n = round(duration_s / step_s)
    wall = 0.0
    for k in range(1, n + 1) if rotation is not None else (n,):
        sim.ConfigureStopTime(macros.sec2nano(k * step_s))
        t0 = time.perf_counter()
        sim.ExecuteSimulation()
        wall += time.perf_counter() - t0
        if rotation is not None:
            orient(k * step_s)
    out = [(np.array(sc.scStateOutMsg.read().r_BN_N), np.array(sc.scStateOutMsg.read().v_BN_N)) for sc in scs]
    return out, wall


def basilisk_available() -> bool:
    try:
        import Basilisk.simulation.spacecraft  # noqa: F401
    except ImportError:
        return False
    return True


def _initial_state(scn):
    """The default scenario's target orbit and the chaser 5 km behind it (12-state, m, m/s, N)."""
    t = scn.target
    r_T, v_T = kepler_to_eci(MU_EARTH, t.semi_major_axis_m, t.eccentricity, math.radians(t.inclination_deg),
                             math.radians(t.raan_deg), math.radians(t.arg_perigee_deg),
                             math.radians(t.true_anomaly_deg))
    r_C, v_C = hill_to_eci(r_T, v_T, np.array(scn.chaser.r0_CT_H_m), np.array(scn.chaser.v0_CT_H_m_s), np.zeros(3))
    return np.concatenate([r_T, v_T, r_C, v_C])


def _best(fn, repeats):
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _scenario_run(quick: bool) -> dict:
    from dataclasses import replace

    from sim.run import run_scenario

    scn = load_scenario(SCENARIO)
    if quick:
        scn = replace(scn, run=replace(scn.run, max_duration_s=1800.0))
    ideal = replace(scn, thrusters=(), attitude=(), imu=(), star_tracker=())
    with tempfile.TemporaryDirectory() as out:
        s3 = run_scenario(ideal, SCENARIO.read_text(), out, plots=False)
        s = run_scenario(scn, SCENARIO.read_text(), out, plots=False)
    return {"scenario_realtime_factor": s["realtime_factor"], "scenario_wall_s": s["wall_s"],
            "scenario_sim_s": s["sim_duration_s"], "scenario_success": s["success"],
            "scenario_realtime_factor_3dof": s3["realtime_factor"]}


def run(quick: bool = False) -> dict:
    scn = load_scenario(SCENARIO)
    y0 = _initial_state(scn)
    # one orbit, rounded to whole steps so Basilisk's task schedule ends at the same instant
    period = round(2 * math.pi * math.sqrt(scn.target.semi_major_axis_m**3 / MU_EARTH) / STEP_S) * STEP_S
    repeats = 2 if quick else REPEATS
    figures = {"step_s": STEP_S, "orbit_period_s": period}

    j2 = ForceModel.point_mass_j2(True)
    arrays = j2.kernel_arrays()
    y_j2, est = propagate_forces(j2, y0, 0.0, np.zeros(3), period, STEP_S, arrays)  # also compiles
    y_half, _ = propagate_forces(j2, y0, 0.0, np.zeros(3), period, STEP_S / 2)
    figures["truncation_err_m_per_orbit_j2"] = float(np.abs(y_j2 - y_half)[[0, 1, 2, 6, 7, 8]].max())
    figures["truncation_estimate_max_m"] = est
    bsk = basilisk_available()
    cbar = np.zeros((3, 3))
    cbar[0, 0], cbar[2, 0] = 1.0, -J2_EARTH / math.sqrt(5.0)
    states = [(y0[0:3], y0[3:6]), (y0[6:9], y0[9:12])]
    ours, walls, walls78 = [], [], []
    for _ in range(repeats):  # interleaved, so both see the same state of this shared machine
        ours.append(_best(lambda: propagate_forces(j2, y0, 0.0, np.zeros(3), period, STEP_S, arrays), 20))
        if bsk:  # as many samples as ours: three runs a repeat
            runs = [basilisk_propagate(states, period, STEP_S, MU_EARTH, R_EARTH, cbar, np.zeros((3, 3)), 2)
                    for _ in range(3)]
            final = runs[0][0]
            walls.append(min(r[1] for r in runs))
            walls78.append(basilisk_propagate(states, period, STEP_S, MU_EARTH, R_EARTH, cbar, np.zeros((3, 3)), 2,
                                              rkf78=True)[1])
    figures["propagate_us_per_orbit_j2"] = min(ours) * 1e6
    if bsk:
        figures["basilisk_us_per_orbit_j2"] = min(walls) * 1e6
        figures["basilisk_rkf78_us_per_orbit_j2"] = min(walls78) * 1e6
        # the ratio of each repeat (both timed back to back, so under the same machine load), median over repeats
        figures["speedup_vs_basilisk"] = float(np.median(np.array(walls) / np.array(ours)))
        figures["speedup_vs_basilisk_rkf78"] = float(np.median(np.array(walls78) / np.array(ours)))
        figures["j2_agreement_vs_basilisk_m"] = max(float(np.linalg.norm(final[0][0] - y_j2[0:3])),
                                                    float(np.linalg.norm(final[1][0] - y_j2[6:9])))

    full = ForceModel.from_scenario(scn)
    n_s = round(period) if not quick else 600
    a = scn.target

    def truth_orbit():
        w = TruthWorld.from_elements(a.semi_major_axis_m, a.eccentricity, math.radians(a.inclination_deg),
                                     math.radians(a.raan_deg), math.radians(a.arg_perigee_deg),
                                     math.radians(a.true_anomaly_deg), np.array(scn.chaser.r0_CT_H_m),
                                     np.array(scn.chaser.v0_CT_H_m_s), STEP_S, full, 1.0)
        for k in range(1, n_s + 1):
            w.advance_to(k * 1_000_000_000, np.zeros(3))

    wall_full = _best(truth_orbit, 1 if quick else 3)
    figures["forces_full"] = full.describe()
    figures["propagate_us_per_orbit_full"] = wall_full / n_s * period * 1e6
    figures["truth_realtime_factor"] = n_s / wall_full
    figures.update(_scenario_run(quick))
    truth_s = figures["scenario_sim_s"] / figures["truth_realtime_factor"]
    figures["scenario_truth_share"] = truth_s / figures["scenario_wall_s"]
    return figures
