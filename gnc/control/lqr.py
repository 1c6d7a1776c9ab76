"""LQR baseline: the MPC's quadratic cost without its constraints, as a saturated feedback law.

    a_k = sat( a_ff_k - K (x_k - xr_k) ),   per-axis saturation at a_max

State x = [r_CT_H (m), v_CT_H (m/s)] and acceleration a (m/s^2) in the Hill frame H of gnc.frames.
K is the infinite-horizon discrete LQR gain of the MPC's scaled HCW model and weights (the Riccati
solution that is also the MPC's terminal cost, gnc.control.mpc.dlqr_gain), so the two controllers
differ only by the constraints and the horizon. a_ff_k is guidance's input reference when it gives
one, else B^+ (xr_{k+1} - A xr_k), the least-squares input that keeps the reference on its own path
(zero on a natural-motion reference).
The law knows no keep-out sphere, closing-speed limit or cone; its plan (the closed-loop prediction
over the horizon under the same law) is reported so that guidance's abort checks see where it goes.
"""


import numpy as np

from gnc.control.mpc import HcwLqController, MpcResult, readonly_array, closing_speed_limit


class LqrController(HcwLqController):
    """Saturated LQR tracking of the guidance reference; same interface as RelativeMPC.

    Arguments as HcwLqController. ``solve(x0, xref, uref=None)`` returns an MpcResult whose plan is the
    predicted closed loop; its slack figures are the plan's keep-out penetration (m) and largest
    closing-speed excess over the limit (m/s), as the law has no constraints to relax.
    """

    def __init__(self, n, dt_s, horizon, a_max, keep_out_radius_m, closing_speed_min_m_s,
                 closing_speed_gain_per_s, q_pos=1.0, q_vel=1.0, r_u=1.0, length_scale_m=100.0,
                 velocity_scale_m_s=None, clock_ns=None):
        super().__init__(n, dt_s, horizon, a_max, keep_out_radius_m, closing_speed_min_m_s,
                         closing_speed_gain_per_s, q_pos, q_vel, r_u, length_scale_m, velocity_scale_m_s, clock_ns)
        self.K_H = self.lqr_gain()
        self._B_pinv = np.linalg.pinv(self.B_H)

    def reset(self):
        """Nothing to forget: the law is memoryless (kept for the controller interface)."""

    def solve(self, x0, xref, uref=None, theta_rad=None):
        """Command and predicted closed loop from x0 (6,) towards xref ((N+1), 6) with the input reference
        uref (N, 3) m/s^2 (None: derived from xref, module doc), SI, H. theta_rad: ignored (HCW gain; kept
        for the controller interface).

        Never raises on non-finite inputs (ok=False, zero command); ValueError on wrong shapes.
        """
        t_start = self._clock()
        given = uref is not None
        x0, xref, uref = self._check_inputs(x0, xref, uref)
        if not (np.all(np.isfinite(x0)) and np.all(np.isfinite(xref)) and np.all(np.isfinite(uref))):
            return self._fail("invalid_input", x0, t_start)
        N, A, B = self.horizon, self.A_H, self.B_H
        a_ff = uref if given else (xref[1:] - xref[:-1] @ A.T) @ self._B_pinv.T
        x_plan = np.empty((N + 1, 6))
        u_plan = np.empty((N, 3))
        x_plan[0] = x0
        for k in range(N):
            u_plan[k] = np.clip(a_ff[k] - self.K_H @ (x_plan[k] - xref[k]), -self.a_max, self.a_max)
            x_plan[k + 1] = A @ x_plan[k] + B @ u_plan[k]
        r = x_plan[1:, :3]
        rng = np.linalg.norm(r, axis=1)
        closing = -np.sum(r * x_plan[1:, 3:], axis=1) / np.maximum(rng, 1e-12)
        vmax = closing_speed_limit(rng, self.keep_out_radius_m, self.closing_speed_min_m_s,
                                   self.closing_speed_gain_per_s)
        ko_m = max(float(self.keep_out_radius_m - np.min(rng)), 0.0)
        cl_m_s = max(float(np.max(closing - vmax)), 0.0)
        dx = (x_plan - xref) / self._D[None, :]
        du = (u_plan - uref) / self.a_max
        cost = float(np.sum(dx[:N] ** 2 * np.diag(self.Q_scaled)) + dx[N] @ self.P_scaled @ dx[N]
                     + np.sum(du ** 2 * np.diag(self.R_scaled)))
        return MpcResult(
            u0_H=readonly_array(u_plan[0]), u_plan=readonly_array(u_plan), x_plan=readonly_array(x_plan),
            status="lqr", ok=True, solve_ms=float("nan"),
            compute_ms=self._ms_since(t_start),
            max_slack=max(ko_m, cl_m_s), max_keep_out_slack_m=ko_m, max_closing_slack_m_s=cl_m_s,
            cost=cost)
