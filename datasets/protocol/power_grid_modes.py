"""PowerGrid's linear model: the eigenvalues of the continuous-time matrix A
(modes' frequencies and damping) and the frequency nadir of the largest
generator trip (0.08 p.u.) under droop alone (AGC set-points held).

Rebuilds A from the parameters in neorl/plant/src/env/power_grid.rs
(default_areas, default_ties), with the same state order and equations.
Run: python3 datasets/protocol/power_grid_modes.py
"""
import numpy as np
from scipy.linalg import expm

F0 = 60.0
# H, D, R, Tg, Tt, Fhp, Tr (areas 1..3)
AREAS = [
    (5.0, 1.0, 0.05, 0.20, 0.30, 0.30, 7.0),
    (4.0, 0.8, 0.05, 0.25, 0.35, 0.30, 8.0),
    (6.0, 1.2, 0.04, 0.20, 0.40, 0.25, 6.0),
]
TIES = [(0, 1, 0.0866), (1, 2, 0.07), (2, 0, 0.10)]


def model(areas, ties):
    n, m = len(areas), len(ties)
    nx = 4 * n + m
    A = np.zeros((nx, nx))
    Bd = np.zeros((nx, n))  # net-load input
    df, pg, pch, prh, tie0 = 0, n, 2 * n, 3 * n, 4 * n
    for i, (H, D, R, Tg, Tt, Fhp, Tr) in enumerate(areas):
        m2h = 1 / (2 * H)
        A[df + i, pch + i] += Fhp * m2h
        A[df + i, prh + i] += (1 - Fhp) * m2h
        A[df + i, df + i] += -D * m2h
        Bd[df + i, i] = -m2h
        A[pg + i, df + i] += -1 / (R * Tg)
        A[pg + i, pg + i] += -1 / Tg
        A[pch + i, pg + i] += 1 / Tt
        A[pch + i, pch + i] += -1 / Tt
        A[prh + i, pch + i] += 1 / Tr
        A[prh + i, prh + i] += -1 / Tr
    w0 = 2 * np.pi * F0
    for e, (a, b, T) in enumerate(ties):
        A[df + a, tie0 + e] += -1 / (2 * areas[a][0])
        A[df + b, tie0 + e] += 1 / (2 * areas[b][0])
        A[tie0 + e, df + a] += w0 * T
        A[tie0 + e, df + b] += -w0 * T
    return A, Bd


A, Bd = model(AREAS, TIES)
ev = np.linalg.eigvals(A)
print("eigenvalues of A (oscillatory, Im > 0): f [Hz], damping ratio zeta, participation")
V = np.linalg.eig(A)[1]
lam, vecs = np.linalg.eig(A)
for k in np.argsort(-lam.imag):
    l = lam[k]
    if l.imag <= 1e-9:
        continue
    f = l.imag / (2 * np.pi)
    zeta = -l.real / abs(l)
    shape = vecs[:3, k]  # frequency components
    shape = shape / shape[np.argmax(abs(shape))]
    kind = "inter-area" if np.any(np.real(shape) < -0.2) else "local/common"
    print(f"  {f:.3f} Hz  zeta {zeta:.3f}  sigma {l.real:.3f} 1/s  Δf shape {np.round(shape, 2)}")
print("real eigenvalues:", np.round(np.sort(lam[abs(lam.imag) < 1e-9].real), 4))

# Droop alone: a trip of 0.08 p.u. in each area in turn, set-points held,
# 0.1 s steps of the exact discretisation; nadir of every area's Δf (Hz).
dt = 0.01
nx = A.shape[0]
M = np.zeros((nx + 1, nx + 1))
for area in range(3):
    b = Bd[:, area] * 0.08
    M[:nx, :nx] = A
    M[:nx, nx] = b
    E = expm(M * dt)
    x = np.zeros(nx + 1)
    x[nx] = 1.0
    nadir = np.zeros(3)
    t_nadir = 0.0
    for k in range(int(60 / dt)):
        x = E @ x
        f = x[:3] * F0
        if f.min() < nadir.min():
            t_nadir = (k + 1) * dt
        nadir = np.minimum(nadir, f)
    print(f"0.08 p.u. trip in area {area+1}, droop only: nadirs (Hz) {np.round(nadir, 3)} (deepest at t = {t_nadir:.1f} s); settles at {x[0]*F0:.3f} Hz")
