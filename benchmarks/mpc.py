"""`gnc bench mpc`: the MPC cycle on the default constraint set, fast path against cvxpy, in one run.

For each horizon N in (20, 40, 80) the default scenario (scenarios/inspection.toml: keep-out sphere,
closing-speed law, thrust bound) is flown closed loop with the control horizon set to N and the
executive's default controller (the fast path). Every MPC solve is timed as the executive sees it
(``MpcResult.compute_ms``: the whole ``RelativeMPC.solve`` on the executive's clock, cold starts at phase
changes included). On evenly spaced cycles, with the very parameter values the fast path used:

  naive: the cvxpy problem built from scratch and solved with Clarabel (what a cycle costs when
      the problem is rebuilt every time) -> naive_cvxpy_ms_p50;
  reference: the same problem solved by cvxpy + Clarabel at tight tolerances ->
      max_du0_vs_reference = max |u0_fast - u0_ref|_inf / a_max.

Figures, per N (prefix ``N{N}_``): mpc_ms_p50, mpc_ms_p99, naive_cvxpy_ms_p50, speedup_vs_naive
(naive p50 over mpc p50), max_du0_vs_reference, cycles (solves timed), compared (cycles compared),
reference_inaccurate (picked cycles left out: the tight Clarabel solve ended 'optimal_inaccurate'),
fallback_solves (fast-path passes re-solved through cvxpy because OSQP's answer failed its check),
deadline_fallbacks (control stages that failed or overran, whose command was zeroed: not compared).

The docking MPC (gnc.control.mpc.docking_mpc: 8-faced cone, closing law, no keep-out) is measured the same
way on scenarios/docking.toml's dock phase at its own horizon, prefix ``dock_N{N}_``.
"""

import dataclasses
import time
from pathlib import Path

import numpy as np

from gnc.config import DockPhase
from gnc.control.mpc import RelativeMPC, docking_mpc
from gnc.guidance.modes import Mode
from sim.run import build
from sim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "inspection.toml"
DOCK_SCENARIO = SCENARIO.with_name("docking.toml")
HORIZONS = (20, 40, 80)
TIGHT_CLARABEL = dict(tol_gap_abs=1e-10, tol_gap_rel=1e-10, tol_feas=1e-10, tol_ktratio=1e-8)


def _mpc_args(scn, N):
    c, f = scn.control, scn.flight()
    return dict(n=f.n_rad_s, dt_s=c.period_s, horizon=N, a_max=f.vehicle.max_accel_m_s2,
                keep_out_radius_m=c.keep_out_radius_m, closing_speed_min_m_s=c.closing_speed_min_m_s,
                closing_speed_gain_per_s=c.closing_speed_gain_per_s, q_pos=c.q_pos, q_vel=c.q_vel,
                r_u=c.r_u, fuel_weight=c.fuel_weight, plan_fuel_weight=c.plan_fuel_weight)


def _dock_mpc(scn, N):
    """The docking MPC the executive flies in scn's dock phase, at horizon N."""
    c, f = scn.control, scn.flight()
    p = next(p for p in f.mission.phases if isinstance(p, DockPhase))
    return docking_mpc(f.n_rad_s, c.period_s, N, f.vehicle.max_accel_m_s2, p.contact_m, p.contact_speed_m_s,
                       p.closing_speed_gain_per_s, q_pos=c.q_pos, q_vel=c.q_vel, r_u=c.r_u, fuel_weight=c.fuel_weight)


def _fly(scn, max_cycles, mode=None):
    """Fly scn; returns (compute ms of every MPC solve, [(parameters, u0 m/s^2)] of the solves whose
    command was applied, the executive); only in `mode` when given."""
    _, io, exe = build(scn, scn.run.seed)
    stop_ns = round(scn.run.max_duration_s * 1e9)
    times, solves = [], []
    while exe.t_ns <= stop_ns and len(times) < max_cycles and exe.mode not in (Mode.DONE, Mode.ABORT):
        io.wait_until(exe.t_ns)
        n_before, fallbacks = len(exe.mpc_solve_ms), exe.fallbacks
        rec = exe.step()
        if len(exe.mpc_solve_ms) > n_before and rec.mpc_ok and (mode is None or rec.mode == mode):
            times.append(exe.mpc_solve_ms[-1])
            if exe.fallbacks == fallbacks:   # else the stage overran and the command was zeroed
                solves.append((exe.ctrl.last_parameters, rec.accel_H.copy()))
        exe.t_ns += exe.tick_ns
    return np.array(times), solves, exe


def _horizon(scn, N, quick, dock=False):
    scn = dataclasses.replace(scn, control=dataclasses.replace(scn.control, horizon_steps=N))
    times, solves, exe = _fly(scn, 60 if quick else 10**9, Mode.DOCK if dock else None)
    picks = solves[:: max(1, len(solves) // (4 if quick else 25))]
    build_mpc = (lambda: _dock_mpc(scn, N)) if dock else (lambda: RelativeMPC(**_mpc_args(scn, N)))
    ref = build_mpc()
    naive_ms, du0, skipped = [], [], 0
    for params, u0 in picks:
        t0 = time.perf_counter()
        naive = build_mpc()
        for p in naive.problem.parameters():
            p.value = params[p.name()]
        naive.problem.solve(solver="CLARABEL")
        naive_ms.append(1e3 * (time.perf_counter() - t0))
        for p in ref.problem.parameters():
            p.value = params[p.name()]
        ref.problem.solve(solver="CLARABEL", **TIGHT_CLARABEL)
        if ref.problem.status != "optimal":   # Clarabel could not certify its tight tolerances: no reference
            skipped += 1
            continue
        du0.append(float(np.max(np.abs(ref.u_var.value[0] * ref.a_max - u0))) / ref.a_max)
    p50 = float(np.percentile(times, 50))
    naive_p50 = float(np.median(naive_ms))
    return {"mpc_ms_p50": p50, "mpc_ms_p99": float(np.percentile(times, 99)), "naive_cvxpy_ms_p50": naive_p50,
            "speedup_vs_naive": naive_p50 / p50, "max_du0_vs_reference": max(du0), "cycles": len(times),
            "compared": len(du0), "reference_inaccurate": skipped, "fallback_solves": exe.ctrl.fallback_solves,
            "deadline_fallbacks": exe.fallbacks}


def run(quick: bool = False) -> dict:
    scn = load_scenario(SCENARIO)
    figures = {}
    for N in HORIZONS:
        for k, v in _horizon(scn, N, quick).items():
            figures[f"N{N}_{k}"] = v
    dock = load_scenario(DOCK_SCENARIO)
    N = dock.control.horizon_steps
    for k, v in _horizon(dock, N, quick, dock=True).items():
        figures[f"dock_N{N}_{k}"] = v
    return figures
