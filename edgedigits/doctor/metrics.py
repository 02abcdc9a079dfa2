"""How far a quantized tensor is from its float original: the numbers the doctor ranks layers by.

All take the float reference ``f`` and the artifact's dequantized tensor ``q`` over the same
images (any shape, compared elementwise):

* **SQNR** (dB): 10 log10(sum f^2 / sum (f - q)^2), signal power over quantization-noise power;
  30 dB is about 5 bits of agreement, an exact match is +inf.
* **relative RMSE**: RMSE(f - q) / (max f - min f): the error in units of the tensor's float range
  (an int8 step on a well-used range is 1/255 = 0.0039).
* **cosine similarity** of the flattened tensors: direction kept, scale aside.
* **channel NSR**: the noise-to-signal ratio (1/SQNR, linear) of each channel (last axis: a
  Dense unit, a Conv filter), averaged over channels. A whole-tensor SQNR is dominated by the
  largest channels: one unit whose range is 40x the others (which sets the int8 scale and leaves
  the other units a few steps of resolution) makes the tensor's SQNR look *fine* while the next
  layer, which weighs every unit, suffers. Averaged per channel, NSR is roughly additive along a
  chain of layers, so ``channel NSR(layer) - channel NSR(its input)`` is the noise a layer
  *adds*: the doctor ranks by it, because the accumulated error only grows towards the output
  and would always blame the last layer.
* **clipped fraction**: share of float values outside the int8 tensor's representable range
  ``[scale * (-128 - zp), scale * (127 - zp)]``: a calibration range that was too narrow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class TensorError:
    sqnr_db: float
    nsr: float  # noise power / signal power (linear), whole tensor
    channel_nsr: float  # mean over channels (last axis) of each channel's NSR
    relative_rmse: float
    cosine: float
    float_min: float
    float_max: float
    float_p999: float  # 99.9th percentile of |f|: max/p999 >> 1 means the range is set by outliers


def channel_nsr(f: np.ndarray, q: np.ndarray) -> float:
    """Mean over the last axis of noise / signal power; channels with no signal are left out."""
    f2 = np.asarray(f, dtype=np.float64).reshape(-1, f.shape[-1])
    q2 = np.asarray(q, dtype=np.float64).reshape(-1, f.shape[-1])
    signal = np.sum(f2**2, axis=0)
    noise = np.sum((f2 - q2) ** 2, axis=0)
    live = signal > 0
    return float(np.mean(noise[live] / signal[live])) if live.any() else 0.0


def compare(f: np.ndarray, q: np.ndarray) -> TensorError:
    f, q = np.asarray(f, dtype=np.float64), np.asarray(q, dtype=np.float64)
    if f.shape != q.shape:
        raise ValueError(f"shapes differ: {f.shape} vs {q.shape}")
    per_channel = channel_nsr(f, q) if f.ndim >= 2 else math.nan
    f, q = f.reshape(-1), q.reshape(-1)
    noise = float(np.sum((f - q) ** 2))
    signal = float(np.sum(f**2))
    nsr = noise / signal if signal > 0 else (0.0 if noise == 0 else math.inf)
    sqnr = math.inf if nsr == 0 else -10 * math.log10(nsr) if math.isfinite(nsr) else -math.inf
    span = float(f.max() - f.min()) if f.size else 0.0
    rmse = math.sqrt(noise / max(f.size, 1))
    norms = float(np.linalg.norm(f) * np.linalg.norm(q))
    cosine = float(np.dot(f, q) / norms) if norms > 0 else (1.0 if noise == 0 else 0.0)
    return TensorError(
        sqnr_db=sqnr,
        nsr=nsr,
        channel_nsr=nsr if math.isnan(per_channel) else per_channel,
        relative_rmse=rmse / span if span > 0 else rmse,
        cosine=cosine,
        float_min=float(f.min()),
        float_max=float(f.max()),
        float_p999=float(np.percentile(np.abs(f), 99.9)),
    )


def int8_range(
    scale: float, zero_point: int, qmin: int = -128, qmax: int = 127
) -> tuple[float, float]:
    """The real values an affine-quantized tensor can hold."""
    return scale * (qmin - zero_point), scale * (qmax - zero_point)


def clipped_fraction(f: np.ndarray, low: float, high: float) -> float:
    """Share of float values more than one int8 step outside [low, high]: clipped for real, not
    just rounded (a softmax output of 1.0 in a [0, 255/256] tensor is one step off, by design)."""
    f = np.asarray(f).reshape(-1)
    step = (high - low) / 255 if high > low else 0.0
    return float(np.mean((f < low - step) | (f > high + step))) if f.size else 0.0
