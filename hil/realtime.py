"""Optional real-time scheduling of the process running a HIL loop (Linux SCHED_FIFO)."""

import os


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
