"""Shot noise on readouts: what a hardware run with N shots per observable estimates.

A Pauli observable has eigenvalues +1 and -1; with expectation z, one shot
gives +1 with probability p = (1 + z) / 2. N shots give count ~ Binomial(N, p)
and the estimate 2 count / N - 1, unbiased with variance (1 - z^2) / N.
"""

from __future__ import annotations

import torch


def check_shots(shots: int | None) -> int | None:
    """`shots` as the QRNN stores it: a positive int, or None for exact readouts (0 too)."""
    if shots is None or shots == 0:
        return None
    if isinstance(shots, bool) or not isinstance(shots, int) or shots < 0:
        raise ValueError(f"shots={shots!r}: expected a positive int, or None (or 0) for exact")
    return shots


def sample_readouts(z: torch.Tensor, shots: int) -> torch.Tensor:
    """z with the binomial noise of `shots` shots per observable; gradient straight through.

    The forward value is the shot estimate 2 count / N - 1, drawn with
    `torch.binomial` from torch's global RNG (so `torch.manual_seed` makes it
    reproducible). The backward pass treats the sampling as the identity:
    z_noisy = z + (estimate - z).detach(), so d z_noisy / d z = 1 and the
    gradient is the exact expectation's gradient, taken along the trajectory
    the noisy values drove (they, not the exact ones, feed the controller at
    the next step). The noise itself has no gradient: it is a sample, not a
    function of the parameters that autograd could follow.
    """
    with torch.no_grad():
        # Rounding can push an exact expectation a hair past +-1; binomial needs p in [0, 1].
        p = ((1.0 + z.detach()) / 2.0).clamp_(0.0, 1.0)
        count = torch.binomial(torch.full_like(p, float(shots)), p)
        estimate = 2.0 * count / shots - 1.0
    return z + (estimate - z).detach()
