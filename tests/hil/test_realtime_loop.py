"""The HIL loop's timing discipline: the control stage's solves in a worker process with a declared latency
(Executive.offload_control), the link's reader thread, CPU isolation and the telemetry hand-off."""

import dataclasses
import multiprocessing as mp
import os
import time
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest

from gnc.executive import SolveJob
from hil.control_worker import ControlWorker
from hil.link import SerialLink
from hil.messages import Heartbeat, Source
from hil.realtime import isolate_loop, off_loop_cpus
from hil.telemetry_proc import BATCH_ROWS, TelemetryProcess
from sim.run import build
from sim.scenario import load_scenario
from sim.telemetry import Signal, TelemetryWriter

pytestmark = pytest.mark.realtime  # wall-clock timing: run alone (Makefile test)

ROOT = Path(__file__).resolve().parents[2]
NS = 1_000_000_000


def _hold(budget_s: float):
    """hil_hold with a control budget_s (s). The worker's solve times count against it (its own clock): a budget
    of the whole control period keeps them from deciding a fallback, so runs compare exactly."""
    scn = load_scenario(ROOT / "scenarios" / "hil_hold.toml")
    return dataclasses.replace(scn, control=dataclasses.replace(scn.control, budget_s=budget_s))


def _fly(scn, seconds: float, offload=None):
    """Simulated run (sim.run.build) for seconds; offload(exe) sets the control stage up. Records per tick.
    The stages' clock reads 0: in-loop compute time never decides a fallback on a loaded test machine."""
    world, io, exe = build(scn, scn.run.seed)
    exe.clock_ns = lambda: 0
    solver = offload(exe) if offload is not None else None
    recs = []
    try:
        exe.run(exe.t0_ns + round(seconds * NS), recs.append)
    finally:
        if isinstance(solver, ControlWorker):
            solver.close()
    return exe, recs


def test_declared_latency_applies_each_command_budget_ticks_later():
    scn = _hold(0.05)
    exe0, now = _fly(scn, 0.2)
    exe1, later = _fly(scn, 0.2, lambda exe: exe.offload_control())
    k = exe1.ctrl_latency_ns // exe1.tick_ns
    assert k == 5  # 0.05 s of 10 ms ticks
    # both solve at t0 from the same estimate; the deferred one holds its old (zero) command until t0 + 50 ms
    assert np.any(now[0].accel_H != 0)
    assert all(np.all(r.accel_H == 0) for r in later[:k])
    assert np.array_equal(later[k].accel_H, now[0].accel_H)
    assert np.isfinite(later[k].mpc_solve_ms) and all(np.isnan(r.mpc_solve_ms) for r in later[1:k])


def test_worker_process_flies_the_same_commands_as_the_in_line_latency_model():
    scn = _hold(1.0)
    exe_a, a = _fly(scn, 4.0, lambda exe: exe.offload_control())

    def worker(exe):
        w = ControlWorker(exe, wait_s=60.0)  # lockstep: the simulation waits for each result
        exe.offload_control(w)
        return w
    exe_b, b = _fly(scn, 4.0, worker)
    assert len(a) == len(b) == 401
    assert exe_a.mpc_failures == exe_b.mpc_failures == 0 and exe_b.fallbacks == 0
    assert len(exe_b.mpc_solve_ms) == 4  # control ticks 0..3 s applied (the one at 4 s is due after the end)
    for ra, rb in zip(a, b):
        assert np.array_equal(ra.accel_H, rb.accel_H) and np.array_equal(ra.x_hat, rb.x_hat)
        assert ra.mode == rb.mode and ra.mpc_ok == rb.mpc_ok


class _NeverReady:
    """An off-loop solver whose results never arrive in time."""

    def __init__(self):
        self.jobs = []

    def submit(self, job):
        self.jobs.append(job)

    def collect(self):
        return None


def test_a_result_missing_at_its_deadline_is_a_miss_and_the_safe_command():
    scn = _hold(0.02)
    solver = _NeverReady()
    exe, recs = _fly(scn, 2.5, lambda exe: exe.offload_control(solver))
    assert len(solver.jobs) == 3  # control ticks at 0, 1 and 2 s
    assert exe.stats["ctrl"].misses == 3 and exe.fallbacks == 3 and exe.mpc_fail_streak == 3
    assert recs[2].mpc_ok and np.isnan(recs[2].mpc_solve_ms)  # due at 0.02 s: not a failed solve, a late one
    assert all(np.all(r.accel_H == 0) for r in recs)
    assert any("over budget" in e.text for e in exe.guidance.events)


def test_offload_needs_a_budget_within_the_control_period():
    world, io, exe = build(_hold(1.5), 7)
    with pytest.raises(ValueError, match="control.budget_s"):
        exe.offload_control()


class _Failing:
    def reset(self):
        pass

    def solve(self, x0, xref, uref, **options):
        raise ArithmeticError("boom in the solver")


def test_a_solver_error_in_the_worker_is_raised_in_the_loop():
    w = ControlWorker(SimpleNamespace(controller=lambda key: _Failing()))
    try:
        with pytest.raises(RuntimeError, match="boom in the solver"):
            w.submit(SolveJob(-1, True, None, np.zeros(6), np.zeros((2, 6)), None))
    finally:
        w.close()


def test_link_reader_thread_delivers_frames_with_their_arrival_time():
    rig = SerialLink("pty", "rig")
    flight = SerialLink(rig.pty_path, "flight")
    try:
        flight.start_reader()
        t_send = time.monotonic_ns()
        rig.send(Heartbeat(t_send, int(Source.RIG), 1))
        got = flight.poll(2.0)
        assert [type(m) for m in got] == [Heartbeat] and got[0].t_ns == t_send
        assert flight._reader is not None and flight._reader.is_alive()
        flight.stop_reader()
        rig.send(Heartbeat(t_send + 1, int(Source.RIG), 1))
        got = flight.poll(2.0)  # read in poll again
        assert [m.t_ns for m in got] == [t_send + 1]
        assert flight.counters.frames_rx == 2 and flight.counters.seq_gaps == 0
    finally:
        flight.close()
        rig.close()


def _isolated(q):
    try:
        isolate_loop()
    except OSError as exc:  # no CAP_IPC_LOCK / RLIMIT_MEMLOCK too small
        q.put(("mlock", str(exc)))
        return
    q.put((os.sched_getaffinity(0), off_loop_cpus()))


@pytest.mark.skipif((os.cpu_count() or 1) < 2, reason="needs two CPUs")
def test_isolate_loop_pins_the_loop_and_leaves_the_other_cpus_to_its_helpers():
    assert off_loop_cpus() is None or len(os.sched_getaffinity(0)) == 1  # this process is not pinned
    q = mp.get_context("fork").Queue()
    p = mp.get_context("fork").Process(target=_isolated, args=(q,))
    p.start()
    mine, others = q.get(timeout=30)
    p.join(30)
    if mine == "mlock":
        pytest.skip(f"mlockall not permitted here: {others}")
    every = os.sched_getaffinity(0)
    assert mine == {max(every)} and others == set(range(os.cpu_count())) - mine


def test_telemetry_process_writes_what_the_writer_writes(tmp_path):
    signals = {"t_s": Signal((), "s", "time"), "v": Signal((3,), "m", "vector"),
               "flag": Signal((), "-", "flag", "i1"), "n": Signal((), "-", "count", "i2")}
    rng = np.random.default_rng(3)
    rows = [dict(t_s=i / 100, v=rng.standard_normal(3), flag=bool(i % 3), n=i) for i in range(2 * BATCH_ROWS + 7)]
    a, b = TelemetryProcess(tmp_path / "a.h5", signals, {"x": 1}), TelemetryWriter(tmp_path / "b.h5", signals, {"x": 1})
    for r in rows:
        a.append(**r)
        b.append(**r)
    a.close()
    b.close()
    with h5py.File(tmp_path / "a.h5") as fa, h5py.File(tmp_path / "b.h5") as fb:
        assert set(fa) == set(fb) == set(signals)
        for k in signals:
            assert fa[k].dtype == fb[k].dtype and np.array_equal(fa[k][()], fb[k][()]), k
        assert len(fa["t_s"]) == len(rows)
