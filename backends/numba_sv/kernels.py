"""Statevector kernels in a lane layout: gates, generator overlaps, readouts, seeds.

A batch of B states is held as `chunks`, a real array of shape (C, 2, 2^n, L):
chunk c holds batch elements c*L .. c*L+L-1, `[c, 0]` their real parts and
`[c, 1]` their imaginary parts, amplitude index major and batch element
("lane") minor. Every loop that touches amplitudes has the lanes innermost, so
the same arithmetic runs on L contiguous numbers and LLVM turns it into SIMD
code (AVX-512: 8 float64 lanes). The interleaved complex128 state of one
sequence does not vectorize, and split real/imaginary rows of one state only
do so where a gate's amplitude runs are long (its first qubits). The last
chunk is padded: padded lanes start from the same valid state, get angle 0 from
the controller and the input, zero seeds, and are dropped on output, so they
never produce NaNs or leak into real lanes.

The lane count is a run-time value on purpose: with L known at compile time
LLVM unrolls the lanes and cannot prove that the stores to the real rows do not
alias the loads from the imaginary rows, and stays scalar; with a run-time trip
count its loop vectorizer adds one alias check per loop and vectorizes.

Qubit q is bit n-1-q of the amplitude index (qubit 0 most significant), as in
Braket. Diagonal gates only multiply and permutation gates only move
amplitudes; only the rotations do 2x2 arithmetic. Rotations read their
per-lane cos(theta/2) and sin(theta/2) from a table filled once per step; the
adjoint of a rotation is the same kernel on a table of negated angles, s and t
take `adjoint=True` to conjugate their phase, the other fixed gates are
involutions.
"""

from __future__ import annotations

import math

import numpy as np

from qrnnc import threads

threads.configure()  # before numba is imported anywhere in this process

import numba  # noqa: E402
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

# The widest chunk. Past 64 lanes a chunk of an 8-qubit state (2 x 256 x 64 x 8 B
# = 256 KiB, twice that with the adjoint) starts to spill out of L2.
MAX_LANES = 64
# Lanes are rounded up to whole AVX-512 float64 vectors, so no loop has a scalar tail.
LANE_MULTIPLE = 8

_jit = njit(cache=True, fastmath=True, nogil=True)
# Lane loops are inlined into their gate's loop over amplitude rows: as calls, their
# array arguments cost more per call (packing, reference counts) than 64 lanes of work.
_jit_inline = njit(cache=True, fastmath=True, nogil=True, inline="always")
_jit_parallel = njit(cache=True, fastmath=True, nogil=True, parallel=True)


# ---- layout ---------------------------------------------------------------------


# Amplitude updates per step (gates x 2^n x B) below which a step runs on one thread.
# A parallel launch costs ~90 us (workqueue layer), twice per step, and splitting a
# chunk across threads narrows it: measured at B=64 on 2 threads (2 chunks of 32
# lanes vs 1 of 64), the split loses below 8 qubits, breaks even at 8 (56 gates:
# 0.92M updates) and wins from 9 (1.25x; 1.8x at 10).
PARALLEL_MIN_WORK = 1 << 20


def step_threads(batch: int, n: int, n_gates: int) -> int:
    """The numba threads worth sharing one step's chunks out to (1: run serially)."""
    if max(n_gates, 1) * (1 << n) * batch < PARALLEL_MIN_WORK:
        return 1
    return numba.get_num_threads()


def chunking(batch: int, n_threads: int | None = None) -> tuple[int, int]:
    """(C, L): chunks and lanes per chunk for `batch` states on `n_threads` numba threads.

    One chunk per thread, but none wider than MAX_LANES; then as few lanes as
    that allows, rounded up to LANE_MULTIPLE when the batch is that large.
    """
    if batch < 1:
        raise ValueError(f"batch={batch}: expected at least 1")
    if n_threads is None:
        n_threads = numba.get_num_threads()
    chunks = min(batch, max(n_threads, -(-batch // MAX_LANES)))
    lanes = -(-batch // chunks)
    if lanes >= LANE_MULTIPLE:
        lanes = -(-lanes // LANE_MULTIPLE) * LANE_MULTIPLE
    chunks = -(-batch // lanes)
    return chunks, lanes


def real_dtype_of(dtype: np.dtype | type) -> np.dtype:
    """float32 for complex64 programs, float64 for complex128."""
    return np.dtype(np.float32) if np.dtype(dtype) == np.complex64 else np.dtype(np.float64)


def initial_state(
    batch: int, n: int, plus: bool, dtype: np.dtype | type, lanes: int | None = None
) -> np.ndarray:
    """|0...0> (or |+...+>) for `batch` states in the lane layout, (C, 2, 2^n, L) real.

    `dtype` is the program's complex dtype; `lanes` defaults to `chunking`'s.
    Padded lanes hold the same state as the real ones.
    """
    if lanes is None:
        _, lanes = chunking(batch)
    chunks = -(-batch // lanes)
    state = np.zeros((chunks, 2, 1 << n, lanes), dtype=real_dtype_of(dtype))
    if plus:
        state[:, 0] = 1.0 / math.sqrt(1 << n)
    else:
        state[:, 0, 0] = 1.0
    return state


def pack(psi: np.ndarray, lanes: int) -> np.ndarray:
    """(B, 2^n) complex states -> the lane layout (padded lanes: |0...0>)."""
    batch, dim = psi.shape
    chunks = -(-batch // lanes)
    rows = np.zeros((chunks * lanes, 2, dim), dtype=real_dtype_of(psi.dtype))
    rows[:, 0, 0] = 1.0
    rows[:batch, 0] = psi.real
    rows[:batch, 1] = psi.imag
    return np.ascontiguousarray(rows.reshape(chunks, lanes, 2, dim).transpose(0, 2, 3, 1))


def unpack(state: np.ndarray, batch: int) -> np.ndarray:
    """The lane layout -> (B, 2^n) complex states (a new array)."""
    chunks, _, dim, lanes = state.shape
    flat = state.transpose(0, 3, 1, 2).reshape(chunks * lanes, 2, dim)[:batch]
    return flat[:, 0] + 1j * flat[:, 1]


# ---- index helpers ---------------------------------------------------------------


@_jit_inline
def _insert_zero(k, mask):
    """k with a zero bit inserted at `mask`'s position (higher bits move up)."""
    low = k & (mask - 1)
    return ((k - low) << 1) | low


# ---- lane loops on amplitude rows --------------------------------------------------
# Each takes the real and imaginary planes (2^n, L) of one chunk and row indices,
# and runs over the L lanes. c and s are the lanes' cos and sin of half the angle.


@_jit_inline
def _mix_rows(re, im, i0, i1, c, s, neg):
    """(a0, a1) <- [[c, -i s], [-i s, c]] (a0, a1): exp(-i theta/2 X) (s -> -s if neg)."""
    for k in range(re.shape[1]):
        cc = c[k]
        ss = -s[k] if neg else s[k]
        a0r = re[i0, k]
        a0i = im[i0, k]
        a1r = re[i1, k]
        a1i = im[i1, k]
        re[i0, k] = cc * a0r + ss * a1i
        im[i0, k] = cc * a0i - ss * a1r
        re[i1, k] = cc * a1r + ss * a0i
        im[i1, k] = cc * a1i - ss * a0r


@_jit_inline
def _ry_rows(re, im, i0, i1, c, s):
    """(a0, a1) <- [[c, -s], [s, c]] (a0, a1)."""
    for k in range(re.shape[1]):
        cc = c[k]
        ss = s[k]
        a0r = re[i0, k]
        a0i = im[i0, k]
        a1r = re[i1, k]
        a1i = im[i1, k]
        re[i0, k] = cc * a0r - ss * a1r
        im[i0, k] = cc * a0i - ss * a1i
        re[i1, k] = ss * a0r + cc * a1r
        im[i1, k] = ss * a0i + cc * a1i


@_jit_inline
def _rz_rows(re, im, i0, i1, c, s):
    """a0 <- (c - i s) a0, a1 <- (c + i s) a1."""
    for k in range(re.shape[1]):
        cc = c[k]
        ss = s[k]
        a0r = re[i0, k]
        a0i = im[i0, k]
        a1r = re[i1, k]
        a1i = im[i1, k]
        re[i0, k] = cc * a0r + ss * a0i
        im[i0, k] = cc * a0i - ss * a0r
        re[i1, k] = cc * a1r - ss * a1i
        im[i1, k] = cc * a1i + ss * a1r


@_jit_inline
def _h_rows(re, im, i0, i1):
    for k in range(re.shape[1]):
        a0r = re[i0, k]
        a0i = im[i0, k]
        a1r = re[i1, k]
        a1i = im[i1, k]
        re[i0, k] = (a0r + a1r) * INV_SQRT2
        im[i0, k] = (a0i + a1i) * INV_SQRT2
        re[i1, k] = (a0r - a1r) * INV_SQRT2
        im[i1, k] = (a0i - a1i) * INV_SQRT2


@_jit_inline
def _swap_rows(re, im, i0, i1):
    for k in range(re.shape[1]):
        a0r = re[i0, k]
        a0i = im[i0, k]
        re[i0, k] = re[i1, k]
        im[i0, k] = im[i1, k]
        re[i1, k] = a0r
        im[i1, k] = a0i


@_jit_inline
def _y_rows(re, im, i0, i1):
    """(a0, a1) <- (-i a1, i a0)."""
    for k in range(re.shape[1]):
        a0r = re[i0, k]
        a0i = im[i0, k]
        re[i0, k] = im[i1, k]
        im[i0, k] = -re[i1, k]
        re[i1, k] = -a0i
        im[i1, k] = a0r


@_jit_inline
def _negate_row(re, im, i):
    for k in range(re.shape[1]):
        re[i, k] = -re[i, k]
        im[i, k] = -im[i, k]


@_jit_inline
def _phase_row(re, im, i, pr, pi):
    """a <- (pr + i pi) a."""
    for k in range(re.shape[1]):
        ar = re[i, k]
        ai = im[i, k]
        re[i, k] = pr * ar - pi * ai
        im[i, k] = pr * ai + pi * ar


# ---- fused backward on amplitude rows ------------------------------------------------
# acc[k] += Im<lam|G psi> over the two rows (G the rotation's generator on them),
# then both psi and lam go through the rotation of the table (the adjoint's angle):
# each amplitude pair of psi and lam is read once for the overlap and both updates.
# Fusing further (two rotations on four rows of psi and lam) does not pay: the loop
# then needs more run-time alias checks than LLVM allows and stays scalar.


@_jit_inline
def _adjoint_mix_rows(pr, pi, lr, li, i0, i1, c, s, neg, acc):
    for k in range(pr.shape[1]):
        cc = c[k]
        ss = -s[k] if neg else s[k]
        a0r = pr[i0, k]
        a0i = pi[i0, k]
        a1r = pr[i1, k]
        a1i = pi[i1, k]
        l0r = lr[i0, k]
        l0i = li[i0, k]
        l1r = lr[i1, k]
        l1i = li[i1, k]
        # Im(conj(l0) a1 + conj(l1) a0): the generator X swaps the rows
        ov = l0r * a1i - l0i * a1r + l1r * a0i - l1i * a0r
        acc[k] += -ov if neg else ov
        pr[i0, k] = cc * a0r + ss * a1i
        pi[i0, k] = cc * a0i - ss * a1r
        pr[i1, k] = cc * a1r + ss * a0i
        pi[i1, k] = cc * a1i - ss * a0r
        lr[i0, k] = cc * l0r + ss * l1i
        li[i0, k] = cc * l0i - ss * l1r
        lr[i1, k] = cc * l1r + ss * l0i
        li[i1, k] = cc * l1i - ss * l0r


@_jit_inline
def _adjoint_ry_rows(pr, pi, lr, li, i0, i1, c, s, acc):
    for k in range(pr.shape[1]):
        cc = c[k]
        ss = s[k]
        a0r = pr[i0, k]
        a0i = pi[i0, k]
        a1r = pr[i1, k]
        a1i = pi[i1, k]
        l0r = lr[i0, k]
        l0i = li[i0, k]
        l1r = lr[i1, k]
        l1i = li[i1, k]
        # Y (a0, a1) = (-i a1, i a0): Im = Re(conj(l1) a0) - Re(conj(l0) a1)
        acc[k] += l1r * a0r + l1i * a0i - l0r * a1r - l0i * a1i
        pr[i0, k] = cc * a0r - ss * a1r
        pi[i0, k] = cc * a0i - ss * a1i
        pr[i1, k] = ss * a0r + cc * a1r
        pi[i1, k] = ss * a0i + cc * a1i
        lr[i0, k] = cc * l0r - ss * l1r
        li[i0, k] = cc * l0i - ss * l1i
        lr[i1, k] = ss * l0r + cc * l1r
        li[i1, k] = ss * l0i + cc * l1i


@_jit_inline
def _adjoint_rz_rows(pr, pi, lr, li, i0, i1, c, s, acc):
    for k in range(pr.shape[1]):
        cc = c[k]
        ss = s[k]
        a0r = pr[i0, k]
        a0i = pi[i0, k]
        a1r = pr[i1, k]
        a1i = pi[i1, k]
        l0r = lr[i0, k]
        l0i = li[i0, k]
        l1r = lr[i1, k]
        l1i = li[i1, k]
        # Im(conj(l0) a0 - conj(l1) a1)
        acc[k] += l0r * a0i - l0i * a0r - l1r * a1i + l1i * a1r
        pr[i0, k] = cc * a0r + ss * a0i
        pi[i0, k] = cc * a0i - ss * a0r
        pr[i1, k] = cc * a1r - ss * a1i
        pi[i1, k] = cc * a1i + ss * a1r
        lr[i0, k] = cc * l0r + ss * l0i
        li[i0, k] = cc * l0i - ss * l0r
        lr[i1, k] = cc * l1r - ss * l1i
        li[i1, k] = cc * l1i + ss * l1r


# ---- gates on one chunk ---------------------------------------------------------------


@_jit
def _apply_1q(re, im, n, code, q, c, s, adjoint):
    m = 1 << (n - 1 - q)
    pairs = re.shape[0] >> 1
    if code == RX:
        for k in range(pairs):
            i0 = _insert_zero(k, m)
            _mix_rows(re, im, i0, i0 | m, c, s, False)
    elif code == RY:
        for k in range(pairs):
            i0 = _insert_zero(k, m)
            _ry_rows(re, im, i0, i0 | m, c, s)
    elif code == RZ:
        for k in range(pairs):
            i0 = _insert_zero(k, m)
            _rz_rows(re, im, i0, i0 | m, c, s)
    elif code == H:
        for k in range(pairs):
            i0 = _insert_zero(k, m)
            _h_rows(re, im, i0, i0 | m)
    elif code == X:
        for k in range(pairs):
            i0 = _insert_zero(k, m)
            _swap_rows(re, im, i0, i0 | m)
    elif code == Y:
        for k in range(pairs):
            i0 = _insert_zero(k, m)
            _y_rows(re, im, i0, i0 | m)
    elif code == Z:
        for k in range(pairs):
            _negate_row(re, im, _insert_zero(k, m) | m)
    else:  # phases on |1>: s = i, t = e^{i pi/4}; their adjoints conjugate
        pr = 0.0 if code == S else INV_SQRT2
        pi = 1.0 if code == S else INV_SQRT2
        if adjoint:
            pi = -pi
        for k in range(pairs):
            _phase_row(re, im, _insert_zero(k, m) | m, pr, pi)


@_jit
def _apply_2q(re, im, n, code, w0, w1, c, s):
    """w0 is the first wire: the control of cnot and the cr* gates."""
    m0 = 1 << (n - 1 - w0)
    m1 = 1 << (n - 1 - w1)
    lo = min(m0, m1)
    hi = max(m0, m1)
    quads = re.shape[0] >> 2
    for k in range(quads):
        i00 = _insert_zero(_insert_zero(k, lo), hi)
        i01 = i00 | m1
        i10 = i00 | m0
        i11 = i10 | m1
        if code == CNOT:
            _swap_rows(re, im, i10, i11)
        elif code == CZ:
            _negate_row(re, im, i11)
        elif code == SWAP:
            _swap_rows(re, im, i01, i10)
        elif code == CRX:
            _mix_rows(re, im, i10, i11, c, s, False)
        elif code == CRY:
            _ry_rows(re, im, i10, i11, c, s)
        elif code == CRZ:
            _rz_rows(re, im, i10, i11, c, s)
        elif code == RZZ:  # exp(-i theta/2) on even parity, exp(+i theta/2) on odd
            _rz_rows(re, im, i00, i01, c, s)
            _rz_rows(re, im, i11, i10, c, s)
        else:
            # exp(-i theta/2 P(x)P): P(x)P maps 01<->10 with +1, and 00<->11 with
            # +1 for XX and -1 for YY.
            _mix_rows(re, im, i00, i11, c, s, code == RYY)
            _mix_rows(re, im, i01, i10, c, s, False)


@_jit
def apply_gate(chunk, n, code, w0, w1, c, s, adjoint):
    """Gate `code` on one chunk (2, 2^n, L) in place; c, s (L,): cos, sin of theta/2.

    Rotations apply the angle of their table (negate it for the adjoint);
    `adjoint` conjugates s and t and is ignored by every other gate.
    """
    if code < CNOT:
        _apply_1q(chunk[0], chunk[1], n, code, w0, c, s, adjoint)
    else:
        _apply_2q(chunk[0], chunk[1], n, code, w0, w1, c, s)


@_jit
def adjoint_gate(psi, lam, n, code, w0, w1, c, s, acc):
    """Backward through one rotation in one pass, in place on chunks (2, 2^n, L).

    acc (L,) += Im<lam|G psi> per lane, G the generator (dU/dtheta = -i/2 G U;
    controlled rotations: |1><1| (x) P); then psi and lam both go through the
    rotation of c, s (the table of the negated angle: the uncomputation).
    """
    pr = psi[0]
    pi = psi[1]
    lr = lam[0]
    li = lam[1]
    if code < CNOT:
        m = 1 << (n - 1 - w0)
        for k in range(pr.shape[0] >> 1):
            i0 = _insert_zero(k, m)
            if code == RX:
                _adjoint_mix_rows(pr, pi, lr, li, i0, i0 | m, c, s, False, acc)
            elif code == RY:
                _adjoint_ry_rows(pr, pi, lr, li, i0, i0 | m, c, s, acc)
            else:
                _adjoint_rz_rows(pr, pi, lr, li, i0, i0 | m, c, s, acc)
        return
    m0 = 1 << (n - 1 - w0)
    m1 = 1 << (n - 1 - w1)
    lo = min(m0, m1)
    hi = max(m0, m1)
    for k in range(pr.shape[0] >> 2):
        i00 = _insert_zero(_insert_zero(k, lo), hi)
        i01 = i00 | m1
        i10 = i00 | m0
        i11 = i10 | m1
        if code == CRX:
            _adjoint_mix_rows(pr, pi, lr, li, i10, i11, c, s, False, acc)
        elif code == CRY:
            _adjoint_ry_rows(pr, pi, lr, li, i10, i11, c, s, acc)
        elif code == CRZ:
            _adjoint_rz_rows(pr, pi, lr, li, i10, i11, c, s, acc)
        elif code == RZZ:
            _adjoint_rz_rows(pr, pi, lr, li, i00, i01, c, s, acc)
            _adjoint_rz_rows(pr, pi, lr, li, i11, i10, c, s, acc)
        else:
            _adjoint_mix_rows(pr, pi, lr, li, i00, i11, c, s, code == RYY, acc)
            _adjoint_mix_rows(pr, pi, lr, li, i01, i10, c, s, False, acc)


# ---- readouts and their adjoint seeds ---------------------------------------------------


@_jit
def expect_xyz(chunk, n, q, out):
    """out (3, L) <- <X_q>, <Y_q>, <Z_q> per lane, in one pass over the amplitude pairs."""
    re = chunk[0]
    im = chunk[1]
    m = 1 << (n - 1 - q)
    ex = out[0]
    ey = out[1]
    ez = out[2]
    ex[:] = 0.0
    ey[:] = 0.0
    ez[:] = 0.0
    for j in range(re.shape[0] >> 1):
        i0 = _insert_zero(j, m)
        i1 = i0 | m
        for k in range(re.shape[1]):
            a0r = re[i0, k]
            a0i = im[i0, k]
            a1r = re[i1, k]
            a1i = im[i1, k]
            # conj(a0) a1: its real part is half of <X>, its imaginary part half of <Y>
            ex[k] += a0r * a1r + a0i * a1i
            ey[k] += a0r * a1i - a0i * a1r
            ez[k] += a0r * a0r + a0i * a0i - a1r * a1r - a1i * a1i
    for k in range(re.shape[1]):
        ex[k] *= 2.0
        ey[k] *= 2.0


@_jit
def seed_xyz(lam, psi, n, q, g):
    """lam += 2 (gx X_q + gy Y_q + gz Z_q) psi per lane; g (3, L) = gx, gy, gz."""
    pr = psi[0]
    pi = psi[1]
    lr = lam[0]
    li = lam[1]
    m = 1 << (n - 1 - q)
    gx = g[0]
    gy = g[1]
    gz = g[2]
    for j in range(pr.shape[0] >> 1):
        i0 = _insert_zero(j, m)
        i1 = i0 | m
        for k in range(pr.shape[1]):
            x2 = 2.0 * gx[k]
            y2 = 2.0 * gy[k]
            z2 = 2.0 * gz[k]
            a0r = pr[i0, k]
            a0i = pi[i0, k]
            a1r = pr[i1, k]
            a1i = pi[i1, k]
            # 2 (gx X + gy Y + gz Z) = [[2gz, 2(gx - i gy)], [2(gx + i gy), -2gz]]
            lr[i0, k] += z2 * a0r + x2 * a1r + y2 * a1i
            li[i0, k] += z2 * a0i + x2 * a1i - y2 * a1r
            lr[i1, k] += x2 * a0r - y2 * a0i - z2 * a1r
            li[i1, k] += x2 * a0i + y2 * a0r - z2 * a1i


@_jit
def expect_zz(chunk, n, w0, w1, out):
    """out (L,) <- <Z(w0) Z(w1)> per lane."""
    re = chunk[0]
    im = chunk[1]
    m0 = 1 << (n - 1 - w0)
    m1 = 1 << (n - 1 - w1)
    out[:] = 0.0
    for i in range(re.shape[0]):
        sign = 1.0 if ((i & m0) != 0) == ((i & m1) != 0) else -1.0
        for k in range(re.shape[1]):
            out[k] += sign * (re[i, k] * re[i, k] + im[i, k] * im[i, k])


@_jit
def seed_zz(lam, psi, n, w0, w1, g):
    """lam += 2 g Z(w0) Z(w1) psi per lane, g (L,): the readout's dL/dz * d<O>/d<psi|."""
    m0 = 1 << (n - 1 - w0)
    m1 = 1 << (n - 1 - w1)
    for i in range(psi.shape[1]):
        parity_even = ((i & m0) != 0) == ((i & m1) != 0)
        for k in range(psi.shape[2]):
            two_g = 2.0 * g[k] if parity_even else -2.0 * g[k]
            lam[0, i, k] += two_g * psi[0, i, k]
            lam[1, i, k] += two_g * psi[1, i, k]


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


# ---- one chunk, one step --------------------------------------------------------------


# cos and sin of every lane's half angle, in a loop LLVM vectorizes (libm's are
# scalar calls, ~10 ns a pair: a quarter of a step's kernel time at n=8, B=64).
# fdlibm's method: x = k pi/2 + r by Cody-Waite reduction (pi/2 in three parts,
# exact for |x| < 2^19 pi/2), then its polynomials for |r| <= pi/4; 1 ulp.
# Reassociation would undo the reduction's extra precision, hence the flags.
_SINCOS_FLAGS = {"nsz", "arcp", "contract", "afn"}
_SINCOS_LIMIT = 1e5  # past this, and for inf and NaN, libm does it
_PIO2_1 = 1.57079632673412561417e00
_PIO2_2 = 6.07710050630396597660e-11
_PIO2_3 = 2.02226624871116645580e-21
_TWO_OVER_PI = 6.36619772367581382433e-01
_S1, _S2, _S3 = -1.66666666666666324348e-01, 8.33333333332248946124e-03, -1.98412698298579493134e-04
_S4, _S5, _S6 = 2.75573137070700676789e-06, -2.50507602534068634195e-08, 1.58969099521155010221e-10
_C1, _C2, _C3 = 4.16666666666666019037e-02, -1.38888888888741095749e-03, 2.48015872894767294178e-05
_C4, _C5, _C6 = -2.75573143513906633035e-07, 2.08757232129817482790e-09, -1.13596475577881948265e-11


@njit(cache=True, nogil=True, fastmath=_SINCOS_FLAGS)
def sincos(x, cos, sin):
    """cos, sin (L,) <- cos(x), sin(x) for x (L,) float64."""
    for k in range(x.shape[0]):
        v = x[k]
        q = np.rint(v * _TWO_OVER_PI)
        r = v - q * _PIO2_1
        r = r - q * _PIO2_2
        r = r - q * _PIO2_3
        z = r * r
        sr = r + r * z * (_S1 + z * (_S2 + z * (_S3 + z * (_S4 + z * (_S5 + z * _S6)))))
        hz = 0.5 * z
        w = 1.0 - hz
        poly = _C1 + z * (_C2 + z * (_C3 + z * (_C4 + z * (_C5 + z * _C6))))
        cr = w + (((1.0 - w) - hz) + z * z * poly)
        quadrant = np.int64(q) & 3
        odd = (quadrant & 1) == 1
        sv = cr if odd else sr
        cv = sr if odd else cr
        sin[k] = -sv if quadrant >= 2 else sv
        cos[k] = -cv if quadrant == 1 or quadrant == 2 else cv
    for k in range(x.shape[0]):
        v = x[k]
        if not abs(v) <= _SINCOS_LIMIT:
            cos[k] = math.cos(v)
            sin[k] = math.sin(v)


@_jit
def angle_table(table, first, sources, slots, theta, phi, consts, x, sign):
    """table (G, 2, L) <- cos, sin of sign * angle / 2 per gate and lane.

    Lane k is batch element first + k; lanes past the batch take angle 0 from
    the controller and the input. Fixed gates' rows are left as they are.
    """
    batch = theta.shape[0]
    lanes = table.shape[2]
    last = min(lanes, batch - first)
    half = np.zeros(lanes)
    cos = np.empty(lanes)
    sin = np.empty(lanes)
    for g in range(sources.shape[0]):
        source = sources[g]
        if source == SRC_NONE:
            continue
        slot = slots[g]
        if source == SRC_PARAM or source == SRC_CONST:
            value = 0.5 * sign * (phi[slot] if source == SRC_PARAM else consts[slot])
            c = math.cos(value)
            s = math.sin(value)
            for k in range(lanes):
                table[g, 0, k] = c
                table[g, 1, k] = s
            continue
        pool = theta if source == SRC_CONTROLLER else x
        for k in range(last):
            half[k] = 0.5 * sign * pool[first + k, slot]
        sincos(half, cos, sin)
        for k in range(lanes):
            table[g, 0, k] = cos[k]
            table[g, 1, k] = sin[k]


@_jit
def _readouts(chunk, n, qgroups, zzs, z, first, work):
    batch = z.shape[0]
    lanes = chunk.shape[2]
    last = min(lanes, batch - first)
    for r in range(qgroups.shape[0]):
        expect_xyz(chunk, n, qgroups[r, 0], work)
        for p in range(3):
            col = qgroups[r, 1 + p]
            if col >= 0:
                for k in range(last):
                    z[first + k, col] = work[p, k]
    for r in range(zzs.shape[0]):
        expect_zz(chunk, n, zzs[r, 1], zzs[r, 2], work[0])
        col = zzs[r, 0]
        for k in range(last):
            z[first + k, col] = work[0, k]


@_jit
def _seed(lam, psi, n, qgroups, zzs, dz, first, g):
    """lam += the readouts' seeds for dz (B, K); g (3, L) is scratch in the state's dtype."""
    batch = dz.shape[0]
    last = min(psi.shape[2], batch - first)
    for r in range(qgroups.shape[0]):
        g[:] = 0.0
        nonzero = False
        for p in range(3):
            col = qgroups[r, 1 + p]
            if col >= 0:
                for k in range(last):
                    v = dz[first + k, col]
                    g[p, k] = v
                    nonzero = nonzero or v != 0.0
        if nonzero:
            seed_xyz(lam, psi, n, qgroups[r, 0], g)
    for r in range(zzs.shape[0]):
        g[0, :] = 0.0
        nonzero = False
        col = zzs[r, 0]
        for k in range(last):
            v = dz[first + k, col]
            g[0, k] = v
            nonzero = nonzero or v != 0.0
        if nonzero:
            seed_zz(lam, psi, n, zzs[r, 1], zzs[r, 2], g[0])


@_jit
def _forward_chunk(chunk, first, n, gates, wires, sources, slots, theta, phi, consts, x,
                   qgroups, zzs, z):  # fmt: skip
    lanes = chunk.shape[2]
    table = np.zeros((gates.shape[0], 2, lanes), dtype=chunk.dtype)
    angle_table(table, first, sources, slots, theta, phi, consts, x, 1.0)
    for g in range(gates.shape[0]):
        apply_gate(chunk, n, gates[g], wires[g, 0], wires[g, 1], table[g, 0], table[g, 1], False)
    work = np.empty((3, lanes), dtype=np.float64)
    _readouts(chunk, n, qgroups, zzs, z, first, work)


@_jit
def _backward_chunk(psi, lam, first, n, gates, wires, sources, slots, theta, phi, consts, x,
                    qgroups, zzs, dz, dtheta, dphi, dx):  # fmt: skip
    lanes = psi.shape[2]
    batch = theta.shape[0]
    last = min(lanes, batch - first)
    table = np.zeros((gates.shape[0], 2, lanes), dtype=psi.dtype)
    angle_table(table, first, sources, slots, theta, phi, consts, x, -1.0)
    g3 = np.empty((3, lanes), dtype=psi.dtype)
    _seed(lam, psi, n, qgroups, zzs, dz, first, g3)
    acc = np.empty(lanes, dtype=np.float64)
    for g in range(gates.shape[0] - 1, -1, -1):
        code = gates[g]
        w0 = wires[g, 0]
        w1 = wires[g, 1]
        source = sources[g]
        c = table[g, 0]
        s = table[g, 1]
        if source == SRC_NONE or source == SRC_CONST:
            apply_gate(psi, n, code, w0, w1, c, s, True)
            apply_gate(lam, n, code, w0, w1, c, s, True)
            continue
        acc[:] = 0.0
        adjoint_gate(psi, lam, n, code, w0, w1, c, s, acc)
        # dtheta = Re<lam| -i/2 G psi_out> = Im<lam|G psi_out> / 2
        slot = slots[g]
        if source == SRC_CONTROLLER:
            for k in range(last):
                dtheta[first + k, slot] += 0.5 * acc[k]
        elif source == SRC_PARAM:
            for k in range(last):
                dphi[first + k, slot] += 0.5 * acc[k]
        else:
            for k in range(last):
                dx[first + k, slot] += 0.5 * acc[k]


@_jit
def _uncompute_chunk(chunk, first, n, gates, wires, sources, slots, theta, phi, consts, x):
    table = np.zeros((gates.shape[0], 2, chunk.shape[2]), dtype=chunk.dtype)
    angle_table(table, first, sources, slots, theta, phi, consts, x, -1.0)
    for g in range(gates.shape[0] - 1, -1, -1):
        apply_gate(chunk, n, gates[g], wires[g, 0], wires[g, 1], table[g, 0], table[g, 1], True)


# ---- batched drivers: one call per time step --------------------------------------------
# Each comes twice: `prange` over the chunks, and a serial twin for one thread or
# one chunk, since a parallel launch costs ~90 us even on one thread (workqueue layer).


@_jit_parallel
def forward_step(psi, n, gates, wires, sources, slots, theta, phi, consts, x, qgroups, zzs, z):
    """psi (C, 2, 2^n, L) <- U(theta_b) psi in place; z (B, K) <- readouts of the new state.

    theta (B, P), phi (S,), consts, x (B, D): the angle pools, one row per batch element.
    """
    lanes = psi.shape[3]
    for c in prange(psi.shape[0]):
        _forward_chunk(psi[c], c * lanes, n, gates, wires, sources, slots, theta, phi, consts,
                       x, qgroups, zzs, z)  # fmt: skip


@_jit
def forward_step_serial(psi, n, gates, wires, sources, slots, theta, phi, consts, x, qgroups, zzs,
                        z):  # fmt: skip
    """forward_step without the parallel launch."""
    lanes = psi.shape[3]
    for c in range(psi.shape[0]):
        _forward_chunk(psi[c], c * lanes, n, gates, wires, sources, slots, theta, phi, consts,
                       x, qgroups, zzs, z)  # fmt: skip


@_jit_parallel
def backward_step(
    psi, lam, n, gates, wires, sources, slots, theta, phi, consts, x, qgroups, zzs, dz,
    dtheta, dphi, dx,
):  # fmt: skip
    """One step of adjoint BPTT, in place.

    On entry psi = psi_t and lam = dL/d<psi_t| from later steps (both in the
    lane layout); dz (B, K) is dL/dz_t. On exit psi = psi_{t-1}, lam =
    dL/d<psi_{t-1}| through this step, and the angle gradients are added into
    dtheta (B, P), dphi (B, S) (one row per batch element: summed by the caller,
    no races) and dx (B, D).
    """
    lanes = psi.shape[3]
    for c in prange(psi.shape[0]):
        _backward_chunk(psi[c], lam[c], c * lanes, n, gates, wires, sources, slots, theta, phi,
                        consts, x, qgroups, zzs, dz, dtheta, dphi, dx)  # fmt: skip


@_jit
def backward_step_serial(
    psi, lam, n, gates, wires, sources, slots, theta, phi, consts, x, qgroups, zzs, dz,
    dtheta, dphi, dx,
):  # fmt: skip
    """backward_step without the parallel launch."""
    lanes = psi.shape[3]
    for c in range(psi.shape[0]):
        _backward_chunk(psi[c], lam[c], c * lanes, n, gates, wires, sources, slots, theta, phi,
                        consts, x, qgroups, zzs, dz, dtheta, dphi, dx)  # fmt: skip


@_jit_parallel
def uncompute_step(psi, n, gates, wires, sources, slots, theta, phi, consts, x):
    """psi_t -> psi_{t-1} with no gradients (steps no loss depends on)."""
    lanes = psi.shape[3]
    for c in prange(psi.shape[0]):
        _uncompute_chunk(psi[c], c * lanes, n, gates, wires, sources, slots, theta, phi, consts, x)


@_jit
def uncompute_step_serial(psi, n, gates, wires, sources, slots, theta, phi, consts, x):
    """uncompute_step without the parallel launch."""
    lanes = psi.shape[3]
    for c in range(psi.shape[0]):
        _uncompute_chunk(psi[c], c * lanes, n, gates, wires, sources, slots, theta, phi, consts, x)
