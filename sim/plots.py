"""Plots of a run directory's telemetry: trajectory, navigation error, thrust and delta-v, timing."""

from pathlib import Path

import h5py
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from gnc.config import HoldPhase  # noqa: E402


def _load(path):
    with h5py.File(path, "r", swmr=True) as f:
        return {k: f[k][()] for k in f}


def plot_run(telemetry_path, scn, out_dir) -> list[Path]:
    """Write trajectory.png, trajectory_3d.png, nav_error.png, thrust.png and timing.png; return paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    d = _load(telemetry_path)
    t, r = d["t_s"], d["r_true_H"]
    R = scn.control.keep_out_radius_m
    holds = np.array([p.at_H_m for p in scn.mission.phases if isinstance(p, HoldPhase)])
    paths = []

    fig, ax = plt.subplots(figsize=(9, 5))
    ax.plot(r[:, 1], r[:, 0], lw=1, label="chaser (truth)")
    ax.add_patch(plt.Circle((0, 0), R, color="r", alpha=0.25, label=f"keep-out {R:g} m"))
    if len(holds):
        ax.plot(holds[:, 1], holds[:, 0], "k^", label="hold points")
    ax.plot(0, 0, "k*", ms=10, label="target")
    ax.set(xlabel="along-track y (m)", ylabel="radial x (m)", title="Trajectory in the target Hill frame")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize=8)
    paths.append(out / "trajectory.png")
    fig.savefig(paths[-1], dpi=120, bbox_inches="tight")
    plt.close(fig)

    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    ax.plot(r[:, 1], r[:, 0], r[:, 2], lw=1)
    u, v = np.mgrid[0:2 * np.pi:24j, 0:np.pi:12j]
    ax.plot_surface(R * np.cos(u) * np.sin(v), R * np.sin(u) * np.sin(v), R * np.cos(v), color="r", alpha=0.3)
    if len(holds):
        ax.scatter(holds[:, 1], holds[:, 0], holds[:, 2], c="k", marker="^")
    ax.set(xlabel="along-track y (m)", ylabel="radial x (m)", zlabel="cross-track z (m)", title="Trajectory (3D, Hill)")
    paths.append(out / "trajectory_3d.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    err = np.hstack([d["r_est_H"] - r, d["v_est_H"] - d["v_true_H"]])
    sig = d["sigma_H"]
    fig, axs = plt.subplots(2, 3, figsize=(13, 6), sharex=True)
    names = ["x radial", "y along-track", "z cross-track"]
    for i in range(6):
        ax = axs[i // 3, i % 3]
        ax.plot(t, err[:, i], lw=0.6, label="error")
        ax.plot(t, 3 * sig[:, i], "r", lw=0.8, label="3 sigma")
        ax.plot(t, -3 * sig[:, i], "r", lw=0.8)
        ax.set_title(("position " if i < 3 else "velocity ") + names[i % 3], fontsize=9)
        ax.set_ylabel("m" if i < 3 else "m/s")
        ax.grid(alpha=0.3)
        if i < 3:
            lim = np.percentile(np.abs(3 * sig[:, i]), 99) * 1.5
            ax.set_ylim(-lim, lim)
    axs[1, 1].set_xlabel("time (s)")
    axs[0, 0].legend(fontsize=8)
    fig.suptitle("Navigation error with its 3-sigma bounds (Hill frame)")
    paths.append(out / "nav_error.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    a = d["accel_applied_H"]
    dt = np.diff(t, prepend=t[0])
    dv = np.cumsum(np.linalg.norm(a, axis=1) * dt)
    fig, axs = plt.subplots(2, 1, figsize=(10, 6), sharex=True)
    for i, n in enumerate(names):
        axs[0].plot(t, a[:, i] * 1e3, lw=0.7, label=n)
    axs[0].set(ylabel="acceleration (mm/s^2)", title="Applied thrust acceleration (Hill frame)")
    axs[0].legend(fontsize=8)
    axs[1].plot(t, dv)
    axs[1].set(xlabel="time (s)", ylabel="cumulative delta-v (m/s)")
    for ax in axs:
        ax.grid(alpha=0.3)
    paths.append(out / "thrust.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)

    fig, axs = plt.subplots(1, 2, figsize=(11, 4))
    for ax, key, name in ((axs[0], "nav_us", "navigation stage"), (axs[1], "ctrl_us", "control stage")):
        run = d[key] > 0
        ax.plot(t[run], d[key][run], ".", ms=2)
        ax.set(xlabel="time (s)", ylabel="compute (us)", title=f"{name}: p50 {np.median(d[key][run]):.0f} us")
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
    paths.append(out / "timing.png")
    fig.savefig(paths[-1], dpi=110, bbox_inches="tight")
    plt.close(fig)
    return paths
