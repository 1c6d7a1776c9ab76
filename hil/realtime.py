"""Optional real-time set-up of the process running a HIL loop (Linux: SCHED_FIFO, CPU affinity, mlockall)."""

import ctypes
import os

_MCL_CURRENT, _MCL_FUTURE = 1, 2  # <sys/mman.h>


def use_fifo(priority: int) -> None:
    """Run this process under SCHED_FIFO at priority (1..99): a sleeping loop then preempts ordinary work
    on wake-up. Needs CAP_SYS_NICE (root, or `setcap cap_sys_nice`); the kernel's RT throttling (95 % of
    each second by default) still bounds a runaway loop. PermissionError with the fix otherwise."""
    if not 1 <= priority <= 99:
        raise ValueError(f"--rt-priority {priority}: must be 1..99 (SCHED_FIFO)")
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
    except PermissionError:
        raise PermissionError("--rt-priority needs CAP_SYS_NICE: run as root or "
                              "`sudo setcap cap_sys_nice+ep $(readlink -f .venv/bin/python)`") from None


def isolate_loop() -> None:
    """Pin this process (the HIL loop) to the last CPU it may use and lock its memory (mlockall: no page
    fault in the loop). Its children are then placed on the other CPUs (off_loop_cpus)."""
    os.sched_setaffinity(0, {max(os.sched_getaffinity(0))})
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.mlockall(_MCL_CURRENT | _MCL_FUTURE) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"mlockall: {os.strerror(err)} (needs CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK)")


def off_loop_cpus() -> set[int] | None:
    """The CPUs for this process's helpers (rig emulator, control worker, telemetry writer): all but the one
    isolate_loop pinned it to; None when it is not pinned (or the machine has one CPU)."""
    mine, every = os.sched_getaffinity(0), set(range(os.cpu_count() or 1))
    return None if len(mine) != 1 or mine == every else every - mine


def helper_thread() -> None:
    """Set up the calling thread as a helper of the HIL loop (link reader, telemetry feeder): on the CPUs off
    a pinned loop's and, under SCHED_FIFO, one priority above the loop, so that it runs at once when it has
    the GIL to hand back (the loop would wait for it otherwise, behind whatever runs on those CPUs)."""
    if (cpus := off_loop_cpus()) is not None:
        os.sched_setaffinity(0, cpus)  # this thread only
    if os.sched_getscheduler(0) == os.SCHED_FIFO:
        prio = os.sched_getparam(0).sched_priority
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(min(prio + 1, 99)))
