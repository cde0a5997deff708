"""ChemicalReactor's steady states over the brine flow F_c (nominal feed),
to check the 375 K trip against the ignited branch.

The parameters are those of neorl/plant/src/env/chemical_reactor.rs
(Params::default): CSTR of Seborg et al. with a jacket in steady state,
1/UA_eff = 1/UA + 1/(rho_c c_pc F_c). Steady states are the roots in T of
  rho c_p q (T_f - T) + (-dH) V k(T) C_A(T) - UA_eff (T - T_ci) = 0,
  C_A(T) = q C_Af / (q + V k(T)).
`cp` as an argument shows the effect of the cal/J slip (0.239 vs 4.18).
Run: python3 datasets/protocol/reactor_steady_states.py
"""
import numpy as np

V, q, CAf, Tf, k0, ER, dH, rho, UA = 100, 100, 1.0, 350, 7.2e10, 8750, -5e4, 1000, 5e4
RCC, TCI, TRIP = 1080 * 3.2, 255.0, 375.0


def steady_states(fc, cp=0.239):
    T = np.linspace(280, 480, 200001)
    k = k0 * np.exp(-ER / T)
    ca = q * CAf / (q + V * k)
    ua = 1 / (1 / UA + 1 / (RCC * fc)) if fc > 0 else 0.0
    g = rho * cp * q * (Tf - T) - dH * V * k * ca - ua * (T - TCI)
    idx = np.where(np.sign(g[:-1]) != np.sign(g[1:]))[0]
    return [T[i] for i in idx]


print("F_c [L/min]: steady-state temperatures [K] (cp = 0.239 J/(g K), v0 and v1)")
for fc in np.arange(14.0, 26.01, 1.0):
    print(f"  {fc:5.1f}: {', '.join(f'{t:.1f}' for t in steady_states(fc))}")
below = [fc for fc in np.arange(20.0, 23.0, 0.01)
         if len(ss := steady_states(fc)) == 3 and ss[-1] < TRIP]
print(f"the ignited steady state (the largest of three) lies below {TRIP} K for F_c in "
      f"[{min(below):.2f}, {max(below):.2f}] L/min (0.01 L/min grid); above it only the extinguished one exists")
for fc in np.arange(21.5, 22.8, 0.1):
    print(f"  {fc:5.1f}: {', '.join(f'{t:.1f}' for t in steady_states(fc))}")
print("with cp = 4.18 J/(g K) (water): adiabatic rise "
      f"{-dH * CAf / (rho * 4.18):.1f} K instead of {-dH * CAf / (rho * 0.239):.0f} K")
for fc in [0.0, 5.0, 16.07, 40.0]:
    print(f"  {fc:5.1f}: {', '.join(f'{t:.1f}' for t in steady_states(fc, 4.18))}")
