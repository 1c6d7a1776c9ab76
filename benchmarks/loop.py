"""`gnc bench loop`: one full flight-software cycle (nav + guidance + MPC + allocation) as the executive runs it.

The default scenario is flown closed loop; every tick on which the control stage runs is one full
cycle, timed by the executive's own stage clock. Baseline, measured in the same run on the same
states: the same cycle with the MPC problem rebuilt from scratch every cycle (naive cvxpy).
Figures: cycle_us_p50, cycle_us_p99, max_rate_hz (= 1e6 / cycle_us_p99), naive_cycle_us_p50,
speedup_vs_naive, cycles.
"""

import time
from pathlib import Path

import numpy as np

from gnc.control.mpc import RelativeMPC
from sim.run import build
from sim.scenario import load_scenario

SCENARIO = Path(__file__).resolve().parents[1] / "scenarios" / "inspection.toml"
NS = 1_000_000_000


def run(quick: bool = False) -> dict:
    scn = load_scenario(SCENARIO)
    _, io, exe = build(scn, scn.run.seed)
    n_cycles = 30 if quick else 600
    cycles_us, nav_us, states, refs = [], [], [], []
    c = scn.control
    while len(cycles_us) < n_cycles:
        io.wait_until(exe.t_ns)
        rec = exe.step()
        if rec.ctrl_us > 0:
            if exe.t_ns > exe.t0_ns:  # the first cycle includes one-off warm-up
                cycles_us.append(rec.nav_us + rec.ctrl_us)
                nav_us.append(rec.nav_us)
            states.append(exe.nav.x_rv.copy())
            refs.append(exe.guidance.update(exe.t_ns, exe.nav.x_rv, exe.nav.P_rv, exe.last_meas_ns, 0, np.inf,
                                            c.horizon_steps, c.period_s).xref_H)
        exe.t_ns += exe.tick_ns
    naive_us = []
    f = scn.flight()
    for x, xref in list(zip(states, refs))[:: max(1, len(states) // (5 if quick else 20))]:
        t0 = time.perf_counter_ns()
        mpc = RelativeMPC(n=f.n_rad_s, dt_s=c.period_s, horizon=c.horizon_steps, a_max=f.vehicle.max_accel_m_s2,
                          keep_out_radius_m=c.keep_out_radius_m, closing_speed_min_m_s=c.closing_speed_min_m_s,
                          closing_speed_gain_per_s=c.closing_speed_gain_per_s, q_pos=c.q_pos, q_vel=c.q_vel,
                          r_u=c.r_u, fuel_weight=c.fuel_weight, solver=c.solver)
        mpc.solve(x, xref)
        naive_us.append((time.perf_counter_ns() - t0) / 1e3 + float(np.median(nav_us)))
    p50, p99 = float(np.percentile(cycles_us, 50)), float(np.percentile(cycles_us, 99))
    naive = float(np.median(naive_us))
    return {"cycle_us_p50": p50, "cycle_us_p99": p99, "max_rate_hz": 1e6 / p99,
            "naive_cycle_us_p50": naive, "speedup_vs_naive": naive / p50, "cycles": len(cycles_us),
            "horizon_steps": c.horizon_steps, "solver": c.solver}
