"""`gnc bench hil`: link round trips and the real-time HIL loop against the rig emulator in another process.

Round trips: serial = CCSDS/COBS frames over a pseudo-terminal the emulator creates; CAN = hil/rig.dbc
frames over python-can's slcan on a pseudo-terminal. Each is one Ping answered by one Pong, timed on
the flight side with CLOCK_MONOTONIC, one at a time, while the emulator also streams IMU samples
(100 Hz), heartbeats and statuses (10 Hz). Figures: serial_roundtrip_us_p50/_p99,
can_roundtrip_us_p50/_p99, pings per link and pings lost.

Loop: `gnc hil run` of scenarios/hil_hold.toml (its hold stretched to the bench length) over a
serial pty: 100 Hz, each cycle = rig exchange + truth + flight code + telemetry. Figures:
loop_rate_hz, period_jitter_us_p99 (|wake-up period - 10 ms|), deadline_misses (cycles whose work
ran into the next one), plus lateness, busy time, command round trips, and the control stage's solves
(in a worker process, hil.control_worker): control_late (results not there when due), fallbacks,
solve times. 30 s with quick, else 600 s. With rt_priority the loop process runs under SCHED_FIFO,
alone on the last CPU with its memory locked, the emulator and the helpers on the others (hil.realtime).
"""

import dataclasses
import tempfile
from pathlib import Path

from hil.emulator import EmulatorProcess
from hil.link import CanLink, SerialLink
from hil.run import run_hil
from hil.selftest import selftest
from sim.scenario import load_scenario

WARMUP = 20
SCENARIO = Path(__file__).resolve().parent.parent / "scenarios" / "hil_hold.toml"


def _measure(link_args: list[str], open_flight, count: int) -> dict:
    with EmulatorProcess(link_args, duration_s=600) as emu:
        link = open_flight(emu.pty_path)
        try:
            selftest(link, WARMUP, 0.5)
            return selftest(link, count, 0.5)
        finally:
            link.close()


def loop(duration_s: float, rt_priority: int | None = None, run_dir: str | None = None) -> dict:
    """The hil_hold scenario, its hold lasting duration_s, in real time against the emulator over a pty;
    its run directory kept in run_dir if given."""
    scn = load_scenario(SCENARIO)
    hold = dataclasses.replace(scn.mission.phases[0], duration_s=duration_s)
    scn = dataclasses.replace(scn, run=dataclasses.replace(scn.run, max_duration_s=duration_s + 5),
                              mission=dataclasses.replace(scn.mission, phases=(hold,)))
    rt = () if rt_priority is None else ("--rt-priority", str(rt_priority))
    with EmulatorProcess(["--serial", "pty"], duration_s=duration_s + 120, extra=rt) as emu, \
            tempfile.TemporaryDirectory() as tmp:
        out = run_dir or tmp
        link = SerialLink(emu.pty_path, "flight")
        try:
            s = run_hil(scn, SCENARIO.read_text(), link, out, duration_s, plots=False)
        finally:
            link.close()
    h = s["hil"]
    keys = ("loop_rate_hz", "period_jitter_us_p50", "period_jitter_us_p99", "period_jitter_us_max",
            "deadline_misses", "lateness_us_p50", "lateness_us_p99", "lateness_us_max", "busy_us_p50",
            "busy_us_p99", "busy_us_max", "roundtrip_us_p50",
            "roundtrip_us_p99", "control_late")
    return {k: h[k] for k in keys} | {"loop_cycles": h["cycles"]["cycles"], "loop_safe_entries":
                                      h["cycles"].get("safe_entries", 0), "loop_duration_s": s["sim_duration_s"],
                                      "loop_keep_out_violation_s": s["keep_out_violation_s"],
                                      "loop_final_mode": s["final_mode"], "control_fallbacks": s["fallbacks"],
                                      "mpc_solve_ms_p50": s["mpc_solve_ms_p50"], "mpc_solve_ms_p99": s["mpc_solve_ms_p99"]}


def run(quick: bool = False, rt_priority: int | None = None, run_dir: str | None = None) -> dict:
    if rt_priority is not None:
        from hil.realtime import isolate_loop, use_fifo
        use_fifo(rt_priority)
        isolate_loop()
    count = 100 if quick else 2000
    ser = _measure(["--serial", "pty"], lambda path: SerialLink(path, "flight"), count)
    can_ = _measure(["--can", "slcan:pty"], lambda path: CanLink("slcan", path, "flight"), count)
    out = {}
    for name, r in (("serial", ser), ("can", can_)):
        out |= {f"{name}_roundtrip_us_p50": r["roundtrip_us_p50"], f"{name}_roundtrip_us_p99": r["roundtrip_us_p99"],
                f"{name}_pings": r["sent"], f"{name}_lost": r["lost"]}
    out |= loop(30.0 if quick else 600.0, rt_priority, run_dir)
    return out | {"serial_transport": "pty (a pty does not pace the line rate)", "can_transport": "slcan over pty",
                  "loop_scheduling": f"SCHED_FIFO {rt_priority}" if rt_priority else "default (SCHED_OTHER)"}
