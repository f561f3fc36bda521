"""Statevector kernels: gates, generator overlaps, readouts, adjoint seeds.

All kernels work in place on one state `psi` of length 2^n (the batched
drivers at the bottom run `prange` over the batch, one state per iteration, so
each state stays in cache while a whole step's gates go over it).

Qubit q is bit n-1-q of the amplitude index (qubit 0 most significant), as in
Braket. Diagonal gates only multiply and permutation gates only move
amplitudes; only the rotations do 2x2 arithmetic.

The adjoint of every gate is the same kernel with `adjoint=True`: rotations
negate the angle, s and t conjugate their phase, the rest are involutions.
"""

from __future__ import annotations

import math

import numpy as np

from qrnnc import threads

threads.configure()  # before numba is imported anywhere in this process

from numba import njit, prange  # noqa: E402

from qrnnc.gates import GATE_CODES  # noqa: E402
from qrnnc.program import OBSERVABLE_CODES, SOURCE_CODES  # noqa: E402

# Codes are literal constants so numba folds the dispatch; the import-time
# check below keeps them equal to the gate table's.
RX, RY, RZ, H, X, Y, Z, S, T = 0, 1, 2, 3, 4, 5, 6, 7, 8
CNOT, CZ, SWAP, CRX, CRY, CRZ, RXX, RYY, RZZ = 9, 10, 11, 12, 13, 14, 15, 16, 17
OBS_X, OBS_Y, OBS_Z, OBS_ZZ = 0, 1, 2, 3
SRC_NONE, SRC_CONTROLLER, SRC_PARAM, SRC_CONST, SRC_INPUT = 0, 1, 2, 3, 4

_KERNEL_CODES = {
    "rx": RX, "ry": RY, "rz": RZ, "h": H, "x": X, "y": Y, "z": Z, "s": S, "t": T,
    "cnot": CNOT, "cz": CZ, "swap": SWAP, "crx": CRX, "cry": CRY, "crz": CRZ,
    "rxx": RXX, "ryy": RYY, "rzz": RZZ,
}  # fmt: skip
if _KERNEL_CODES != GATE_CODES:
    raise ImportError("numba_sv gate codes differ from qrnnc.gates.GATE_CODES")
if OBSERVABLE_CODES != {"x": OBS_X, "y": OBS_Y, "z": OBS_Z, "zz": OBS_ZZ}:
    raise ImportError("numba_sv observable codes differ from qrnnc.program.OBSERVABLE_CODES")
if SOURCE_CODES != {"none": 0, "controller": 1, "param": 2, "const": 3, "input": 4}:
    raise ImportError("numba_sv source codes differ from qrnnc.program.SOURCE_CODES")

SUPPORTED_GATES: tuple[str, ...] = tuple(_KERNEL_CODES)
INV_SQRT2 = 1.0 / math.sqrt(2.0)
PHASE_T = complex(INV_SQRT2, INV_SQRT2)

_jit = njit(cache=True, fastmath=True, nogil=True)


@_jit
def _insert_zero(k, mask):
    """k with a zero bit inserted at `mask`'s position (higher bits move up)."""
    low = k & (mask - 1)
    return ((k - low) << 1) | low


@_jit
def _pair_base(k, m0, m1):
    """The k-th index whose bits at m0 and m1 are both zero."""
    if m0 < m1:
        return _insert_zero(_insert_zero(k, m0), m1)
    return _insert_zero(_insert_zero(k, m1), m0)


# ---- one-qubit gates -----------------------------------------------------------


@_jit
def _apply_1q(psi, n, code, q, theta, adjoint):
    dim = psi.shape[0]
    m = 1 << (n - 1 - q)
    if code == RX or code == RY or code == RZ:
        half = -0.5 * theta if adjoint else 0.5 * theta
        c = math.cos(half)
        s = math.sin(half)
        if code == RZ:
            lo = complex(c, -s)
            hi = complex(c, s)
            for base in range(0, dim, 2 * m):
                for i0 in range(base, base + m):
                    psi[i0] *= lo
                    psi[i0 + m] *= hi
        elif code == RX:
            ms = complex(0.0, -s)
            for base in range(0, dim, 2 * m):
                for i0 in range(base, base + m):
                    a0 = psi[i0]
                    a1 = psi[i0 + m]
                    psi[i0] = c * a0 + ms * a1
                    psi[i0 + m] = ms * a0 + c * a1
        else:
            for base in range(0, dim, 2 * m):
                for i0 in range(base, base + m):
                    a0 = psi[i0]
                    a1 = psi[i0 + m]
                    psi[i0] = c * a0 - s * a1
                    psi[i0 + m] = s * a0 + c * a1
    elif code == H:
        for base in range(0, dim, 2 * m):
            for i0 in range(base, base + m):
                a0 = psi[i0]
                a1 = psi[i0 + m]
                psi[i0] = (a0 + a1) * INV_SQRT2
                psi[i0 + m] = (a0 - a1) * INV_SQRT2
    elif code == X:
        for base in range(0, dim, 2 * m):
            for i0 in range(base, base + m):
                a0 = psi[i0]
                psi[i0] = psi[i0 + m]
                psi[i0 + m] = a0
    elif code == Y:
        for base in range(0, dim, 2 * m):
            for i0 in range(base, base + m):
                a0 = psi[i0]
                a1 = psi[i0 + m]
                psi[i0] = complex(a1.imag, -a1.real)  # -i * a1
                psi[i0 + m] = complex(-a0.imag, a0.real)  # i * a0
    else:  # diagonal phases on |1>: z, s, t
        if code == Z:
            phase = complex(-1.0, 0.0)
        elif code == S:
            phase = complex(0.0, -1.0) if adjoint else complex(0.0, 1.0)
        else:
            phase = PHASE_T.conjugate() if adjoint else PHASE_T
        for base in range(0, dim, 2 * m):
            for i0 in range(base + m, base + 2 * m):
                psi[i0] *= phase


# ---- two-qubit gates (w0 is the first wire: control of cnot and the cr*) --------


@_jit
def _apply_2q(psi, n, code, w0, w1, theta, adjoint):
    m0 = 1 << (n - 1 - w0)
    m1 = 1 << (n - 1 - w1)
    quads = psi.shape[0] >> 2
    if code == CNOT:
        for k in range(quads):
            i = _pair_base(k, m0, m1) | m0
            a = psi[i]
            psi[i] = psi[i | m1]
            psi[i | m1] = a
        return
    if code == CZ:
        for k in range(quads):
            i = _pair_base(k, m0, m1) | m0 | m1
            psi[i] = -psi[i]
        return
    if code == SWAP:
        for k in range(quads):
            i = _pair_base(k, m0, m1)
            a = psi[i | m0]
            psi[i | m0] = psi[i | m1]
            psi[i | m1] = a
        return
    half = -0.5 * theta if adjoint else 0.5 * theta
    c = math.cos(half)
    s = math.sin(half)
    if code == CRZ:
        lo = complex(c, -s)
        hi = complex(c, s)
        for k in range(quads):
            i = _pair_base(k, m0, m1) | m0
            psi[i] *= lo
            psi[i | m1] *= hi
    elif code == CRX:
        ms = complex(0.0, -s)
        for k in range(quads):
            i0 = _pair_base(k, m0, m1) | m0
            i1 = i0 | m1
            a0 = psi[i0]
            a1 = psi[i1]
            psi[i0] = c * a0 + ms * a1
            psi[i1] = ms * a0 + c * a1
    elif code == CRY:
        for k in range(quads):
            i0 = _pair_base(k, m0, m1) | m0
            i1 = i0 | m1
            a0 = psi[i0]
            a1 = psi[i1]
            psi[i0] = c * a0 - s * a1
            psi[i1] = s * a0 + c * a1
    elif code == RZZ:
        even = complex(c, -s)  # parity even: exp(-i theta/2)
        odd = complex(c, s)
        for k in range(quads):
            i = _pair_base(k, m0, m1)
            psi[i] *= even
            psi[i | m0 | m1] *= even
            psi[i | m0] *= odd
            psi[i | m1] *= odd
    else:  # rxx, ryy: exp(-i theta/2 P(x)P) mixes 00<->11 and 01<->10
        ms = complex(0.0, -s)
        # P(x)P maps 00<->11 with sign +1 for XX and -1 for YY; 01<->10 with +1 for both.
        far = ms if code == RXX else -ms
        for k in range(quads):
            i00 = _pair_base(k, m0, m1)
            i11 = i00 | m0 | m1
            i01 = i00 | m1
            i10 = i00 | m0
            a00 = psi[i00]
            a11 = psi[i11]
            psi[i00] = c * a00 + far * a11
            psi[i11] = c * a11 + far * a00
            a01 = psi[i01]
            a10 = psi[i10]
            psi[i01] = c * a01 + ms * a10
            psi[i10] = c * a10 + ms * a01


@_jit
def apply_gate(psi, n, code, w0, w1, theta, adjoint):
    """Apply gate `code` (or its adjoint) to one state in place."""
    if code < CNOT:
        _apply_1q(psi, n, code, w0, theta, adjoint)
    else:
        _apply_2q(psi, n, code, w0, w1, theta, adjoint)


# ---- generator overlaps: <lam| G psi> for the gate's generator G --------------


@_jit
def generator_overlap(lam, psi, n, code, w0, w1):
    """<lam| G |psi> with dU/dtheta = -i/2 G U (controlled rotations: |1><1| (x) P)."""
    acc = complex(0.0, 0.0)
    dim = psi.shape[0]
    if code < CNOT:
        m = 1 << (n - 1 - w0)
        for base in range(0, dim, 2 * m):
            for i0 in range(base, base + m):
                l0 = lam[i0].conjugate()
                l1 = lam[i0 + m].conjugate()
                a0 = psi[i0]
                a1 = psi[i0 + m]
                if code == RX:
                    acc += l0 * a1 + l1 * a0
                elif code == RY:
                    acc += l0 * complex(a1.imag, -a1.real) + l1 * complex(-a0.imag, a0.real)
                else:
                    acc += l0 * a0 - l1 * a1
        return acc
    m0 = 1 << (n - 1 - w0)
    m1 = 1 << (n - 1 - w1)
    for k in range(dim >> 2):
        i00 = _pair_base(k, m0, m1)
        i01 = i00 | m1
        i10 = i00 | m0
        i11 = i10 | m1
        if code == CRX:
            acc += lam[i10].conjugate() * psi[i11] + lam[i11].conjugate() * psi[i10]
        elif code == CRY:
            a0 = psi[i10]
            a1 = psi[i11]
            acc += lam[i10].conjugate() * complex(a1.imag, -a1.real)
            acc += lam[i11].conjugate() * complex(-a0.imag, a0.real)
        elif code == CRZ:
            acc += lam[i10].conjugate() * psi[i10] - lam[i11].conjugate() * psi[i11]
        elif code == RZZ:
            acc += lam[i00].conjugate() * psi[i00] + lam[i11].conjugate() * psi[i11]
            acc -= lam[i01].conjugate() * psi[i01] + lam[i10].conjugate() * psi[i10]
        else:
            sign = 1.0 if code == RXX else -1.0
            acc += sign * (lam[i00].conjugate() * psi[i11] + lam[i11].conjugate() * psi[i00])
            acc += lam[i01].conjugate() * psi[i10] + lam[i10].conjugate() * psi[i01]
    return acc


@_jit
def adjoint_rotation_1q(psi, lam, n, code, q, theta):
    """One pass of backward for rx/ry/rz: returns <lam|P psi>, then undoes the gate on both.

    Fusing the overlap with both uncomputations reads each amplitude pair once
    instead of three times; this is most of the backward pass.
    """
    dim = psi.shape[0]
    m = 1 << (n - 1 - q)
    c = math.cos(0.5 * theta)
    s = math.sin(0.5 * theta)
    acc = complex(0.0, 0.0)
    if code == RZ:
        lo = complex(c, s)  # exp(+i theta/2): the adjoint's phase on |0>
        hi = complex(c, -s)
        for base in range(0, dim, 2 * m):
            for i0 in range(base, base + m):
                i1 = i0 + m
                a0 = psi[i0]
                a1 = psi[i1]
                l0 = lam[i0]
                l1 = lam[i1]
                acc += l0.conjugate() * a0 - l1.conjugate() * a1
                psi[i0] = a0 * lo
                psi[i1] = a1 * hi
                lam[i0] = l0 * lo
                lam[i1] = l1 * hi
    elif code == RX:
        ps = complex(0.0, s)  # rx(-theta) = c + i s X
        for base in range(0, dim, 2 * m):
            for i0 in range(base, base + m):
                i1 = i0 + m
                a0 = psi[i0]
                a1 = psi[i1]
                l0 = lam[i0]
                l1 = lam[i1]
                acc += l0.conjugate() * a1 + l1.conjugate() * a0
                psi[i0] = c * a0 + ps * a1
                psi[i1] = ps * a0 + c * a1
                lam[i0] = c * l0 + ps * l1
                lam[i1] = ps * l0 + c * l1
    else:
        for base in range(0, dim, 2 * m):
            for i0 in range(base, base + m):
                i1 = i0 + m
                a0 = psi[i0]
                a1 = psi[i1]
                l0 = lam[i0]
                l1 = lam[i1]
                # Y a = (-i a1, i a0)
                acc += l0.conjugate() * complex(a1.imag, -a1.real)
                acc += l1.conjugate() * complex(-a0.imag, a0.real)
                psi[i0] = c * a0 + s * a1  # ry(-theta)
                psi[i1] = c * a1 - s * a0
                lam[i0] = c * l0 + s * l1
                lam[i1] = c * l1 - s * l0
    return acc


# ---- readouts and their adjoint seeds -------------------------------------------


@_jit
def expect_zz(psi, n, w0, w1):
    """<psi| Z(w0) Z(w1) |psi>."""
    m0 = 1 << (n - 1 - w0)
    m1 = 1 << (n - 1 - w1)
    acc = 0.0
    for i in range(psi.shape[0]):
        p = psi[i].real * psi[i].real + psi[i].imag * psi[i].imag
        if ((i & m0) != 0) == ((i & m1) != 0):
            acc += p
        else:
            acc -= p
    return acc


@_jit
def seed_zz(lam, psi, n, w0, w1, g):
    """lam += 2 g Z(w0) Z(w1) psi: the readout's contribution dL/dz * d<O>/d<psi|."""
    m0 = 1 << (n - 1 - w0)
    m1 = 1 << (n - 1 - w1)
    two_g = 2.0 * g
    for i in range(psi.shape[0]):
        if ((i & m0) != 0) == ((i & m1) != 0):
            lam[i] += two_g * psi[i]
        else:
            lam[i] -= two_g * psi[i]


@_jit
def expect_xyz(psi, n, q):
    """<X_q>, <Y_q>, <Z_q> in one pass over the amplitude pairs."""
    dim = psi.shape[0]
    m = 1 << (n - 1 - q)
    ex = ey = ez = 0.0
    for base in range(0, dim, 2 * m):
        for i0 in range(base, base + m):
            a0 = psi[i0]
            a1 = psi[i0 + m]
            w = a0.conjugate() * a1
            ex += w.real
            ey += w.imag
            ez += a0.real * a0.real + a0.imag * a0.imag - a1.real * a1.real - a1.imag * a1.imag
    return 2.0 * ex, 2.0 * ey, ez


@_jit
def seed_xyz(lam, psi, n, q, gx, gy, gz):
    """lam += 2 (gx X_q + gy Y_q + gz Z_q) psi in one pass."""
    dim = psi.shape[0]
    m = 1 << (n - 1 - q)
    # 2 (gx X + gy Y + gz Z) = [[2gz, 2(gx - i gy)], [2(gx + i gy), -2gz]]
    off01 = complex(2.0 * gx, -2.0 * gy)
    off10 = complex(2.0 * gx, 2.0 * gy)
    d = 2.0 * gz
    for base in range(0, dim, 2 * m):
        for i0 in range(base, base + m):
            a0 = psi[i0]
            a1 = psi[i0 + m]
            lam[i0] += d * a0 + off01 * a1
            lam[i0 + m] += off10 * a0 - d * a1


@_jit
def _readouts(state, n, qgroups, zzs, zb):
    for r in range(qgroups.shape[0]):
        ex, ey, ez = expect_xyz(state, n, qgroups[r, 0])
        if qgroups[r, 1] >= 0:
            zb[qgroups[r, 1]] = ex
        if qgroups[r, 2] >= 0:
            zb[qgroups[r, 2]] = ey
        if qgroups[r, 3] >= 0:
            zb[qgroups[r, 3]] = ez
    for r in range(zzs.shape[0]):
        zb[zzs[r, 0]] = expect_zz(state, n, zzs[r, 1], zzs[r, 2])


@_jit
def _seed(adj, state, n, qgroups, zzs, dzb):
    for r in range(qgroups.shape[0]):
        gx = dzb[qgroups[r, 1]] if qgroups[r, 1] >= 0 else 0.0
        gy = dzb[qgroups[r, 2]] if qgroups[r, 2] >= 0 else 0.0
        gz = dzb[qgroups[r, 3]] if qgroups[r, 3] >= 0 else 0.0
        if gx != 0.0 or gy != 0.0 or gz != 0.0:
            seed_xyz(adj, state, n, qgroups[r, 0], gx, gy, gz)
    for r in range(zzs.shape[0]):
        g = dzb[zzs[r, 0]]
        if g != 0.0:
            seed_zz(adj, state, n, zzs[r, 1], zzs[r, 2], g)


def readout_groups(obs: np.ndarray, owires: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Readouts regrouped for one pass per qubit.

    qgroups (Q, 4): qubit, then the readout index of its X, Y and Z (-1: not read);
    zzs (R, 3): readout index and the two wires of each ZZ readout.
    """
    by_qubit: dict[int, list[int]] = {}
    zzs = []
    for k, (o, w) in enumerate(zip(obs.tolist(), owires.tolist(), strict=True)):
        if o == OBS_ZZ:
            zzs.append([k, w[0], w[1]])
        else:
            # A qubit read twice for the same Pauli starts a second group.
            groups = by_qubit.setdefault(w[0], [])
            for group in groups:
                if group[1 + o] < 0:
                    group[1 + o] = k
                    break
            else:
                group = [w[0], -1, -1, -1]
                group[1 + o] = k
                groups.append(group)
    rows = [g for groups in by_qubit.values() for g in groups]
    return (
        np.array(rows, dtype=np.int64).reshape(-1, 4),
        np.array(zzs, dtype=np.int64).reshape(-1, 3),
    )


# ---- batched drivers: one call per time step ------------------------------------


@_jit
def _angle(source, slot, b, theta, phi, consts, x):
    if source == SRC_CONTROLLER:
        return theta[b, slot]
    if source == SRC_PARAM:
        return phi[slot]
    if source == SRC_CONST:
        return consts[slot]
    if source == SRC_INPUT:
        return x[b, slot]
    return 0.0


@njit(cache=True, parallel=True, nogil=True, fastmath=True)
def forward_step(psi, n, gates, wires, sources, slots, theta, phi, consts, x, qgroups, zzs, z):
    """psi (B, 2^n) <- U(theta_b) psi in place; z (B, K) <- readouts of the new state."""
    for b in prange(psi.shape[0]):
        state = psi[b]
        for g in range(gates.shape[0]):
            angle = _angle(sources[g], slots[g], b, theta, phi, consts, x)
            apply_gate(state, n, gates[g], wires[g, 0], wires[g, 1], angle, False)
        _readouts(state, n, qgroups, zzs, z[b])


@njit(cache=True, parallel=True, nogil=True, fastmath=True)
def backward_step(
    psi, lam, n, gates, wires, sources, slots, theta, phi, consts, x, qgroups, zzs, dz,
    dtheta, dphi, dx,
):  # fmt: skip
    """One step of adjoint BPTT, in place.

    On entry psi = psi_t and lam = dL/d<psi_t| from later steps; dz (B, K) is
    dL/dz_t. On exit psi = psi_{t-1}, lam = dL/d<psi_{t-1}| through this step,
    and the angle gradients are added into dtheta (B, P), dphi (B, S) (one row
    per batch element: summed by the caller, no races) and dx (B, D).
    """
    for b in prange(psi.shape[0]):
        state = psi[b]
        adj = lam[b]
        _seed(adj, state, n, qgroups, zzs, dz[b])
        for g in range(gates.shape[0] - 1, -1, -1):
            code = gates[g]
            w0 = wires[g, 0]
            w1 = wires[g, 1]
            source = sources[g]
            angle = _angle(source, slots[g], b, theta, phi, consts, x)
            if source == SRC_NONE or source == SRC_CONST:
                apply_gate(state, n, code, w0, w1, angle, True)
                apply_gate(adj, n, code, w0, w1, angle, True)
                continue
            if code <= RZ:
                overlap = adjoint_rotation_1q(state, adj, n, code, w0, angle)
            else:
                overlap = generator_overlap(adj, state, n, code, w0, w1)
                apply_gate(state, n, code, w0, w1, angle, True)
                apply_gate(adj, n, code, w0, w1, angle, True)
            # dtheta = Re<lam| -i/2 G psi_out> = Im<lam|G psi_out> / 2
            d = 0.5 * overlap.imag
            if source == SRC_CONTROLLER:
                dtheta[b, slots[g]] += d
            elif source == SRC_PARAM:
                dphi[b, slots[g]] += d
            else:
                dx[b, slots[g]] += d


@njit(cache=True, parallel=True, nogil=True, fastmath=True)
def uncompute_step(psi, n, gates, wires, sources, slots, theta, phi, consts, x):
    """psi_t -> psi_{t-1} with no gradients (steps no loss depends on)."""
    for b in prange(psi.shape[0]):
        state = psi[b]
        for g in range(gates.shape[0] - 1, -1, -1):
            angle = _angle(sources[g], slots[g], b, theta, phi, consts, x)
            apply_gate(state, n, gates[g], wires[g, 0], wires[g, 1], angle, True)


def initial_state(batch: int, n: int, plus: bool, dtype: np.dtype) -> np.ndarray:
    psi = np.zeros((batch, 1 << n), dtype=dtype)
    if plus:
        psi[:] = 1.0 / math.sqrt(1 << n)
    else:
        psi[:, 0] = 1.0
    return psi
