"""The control stage's solves in a worker process, so that a 1 Hz MPC solve never stalls the 100 Hz HIL loop.

``Executive.offload_control(ControlWorker(exe, cpus))``: at a control tick the executive submits its
``SolveJob`` (pickled down a pipe); the worker, a fork of the loop process that owns the executive's
controllers from the fork on, runs it and sends the MpcResult back; when the command is due
(control.budget_s later, rounded up to ticks) the executive collects it, or flies the safe command
when it is not there (a missed deadline). Results of superseded jobs are dropped. The first job is
solved before ``submit`` returns: it is the flight code's first, cold cycle, which the HIL loop runs
before its wall clock starts. Linux (fork, sched_setaffinity).
"""

import gc
import multiprocessing as mp
import os
import signal
import traceback

FIRST_SOLVE_TIMEOUT_S = 60.0


def _serve(conn, controller, cpus) -> None:
    """The worker: (seq, job) in, (seq, MpcResult or error text) out, until None or the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the loop's to handle; it closes the worker
    if cpus:
        os.sched_setaffinity(0, cpus)
    if os.sched_getscheduler(0) == os.SCHED_FIFO:  # below the loop and the rig emulator: they preempt a solve
        prio = os.sched_getparam(0).sched_priority
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(max(prio - 1, 1)))
    gc.freeze()
    while True:
        try:
            msg = conn.recv()
        except EOFError:
            return
        if msg is None:
            return
        seq, job = msg
        try:
            out = job.run(controller(job.key))
        except Exception:  # re-raised in the loop, as an in-line solve would raise
            out = traceback.format_exc()
        conn.send((seq, out))


class ControlWorker:
    """The solver of Executive.offload_control, in a forked process pinned to cpus (None: inherited).
    Fork it before the process starts threads. collect waits up to wait_s (s) for a result (0 in real
    time: it is due now; a simulation in lockstep waits). late: jobs whose result was not there in time."""

    def __init__(self, exe, cpus: set[int] | None = None, wait_s: float = 0.0):
        ctx = mp.get_context("fork")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, exe.controller, cpus), daemon=True,
                                 name="control-worker")
        self._proc.start()
        child.close()
        self._seq = 0
        self._first = None
        self.wait_s = wait_s
        self.late = 0

    def submit(self, job) -> None:
        self._seq += 1
        self._conn.send((self._seq, job))
        if self._seq == 1:
            self._first = self._receive(FIRST_SOLVE_TIMEOUT_S)
            if self._first is None:
                raise TimeoutError(f"control worker: no first solve within {FIRST_SOLVE_TIMEOUT_S} s")

    def _receive(self, wait_s: float):
        while self._conn.poll(wait_s):
            seq, out = self._conn.recv()
            if isinstance(out, str):
                raise RuntimeError(f"control worker failed:\n{out}")
            if seq == self._seq:
                return out
        return None

    def collect(self):
        """The MpcResult of the last job submitted, or None when it is not ready now."""
        if self._first is not None:
            out, self._first = self._first, None
            return out
        out = self._receive(self.wait_s)
        self.late += out is None
        return out

    def close(self, timeout_s: float = 5.0) -> None:
        if self._proc is None:
            return
        try:
            self._conn.send(None)
        except (BrokenPipeError, OSError):
            pass
        self._proc.join(timeout_s)
        if self._proc.is_alive():
            self._proc.kill()
            self._proc.join()
        self._conn.close()
        self._proc = None
