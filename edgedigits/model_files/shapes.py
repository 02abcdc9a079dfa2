"""Shape inference for the allowlisted layers: each layer's output shape and weight shapes from
its arguments alone, channels last, per image (no batch dimension).

Run before anything is built, so a file that claims a billion weights is refused by arithmetic,
not by an allocation; and the weight shapes it gives are what every array in the file is checked
against before it is read.
"""

from __future__ import annotations

import math
from typing import Any

Shape = tuple[int, ...]


class ShapeError(ValueError):
    """The arguments do not fit the input (the caller names the layer)."""


def _conv_length(n: int, k: int, s: int, d: int, padding: str) -> int:
    if padding == "same":
        return -(-n // s)
    return (n - d * (k - 1) - 1) // s + 1


def _spatial(
    kind: str,
    shape: Shape,
    kernel: list[int],
    strides: list[int],
    dilation: list[int],
    padding: str,
) -> tuple[int, int]:
    if len(shape) != 3:
        raise ShapeError(f"{kind} needs (height, width, channels) input, got {shape}")
    h, w = (
        _conv_length(n, k, s, d, padding)
        for n, k, s, d in zip(shape[:2], kernel, strides, dilation)
    )
    if h < 1 or w < 1:
        raise ShapeError(f"{kind} leaves no output from a {shape} input")
    return h, w


def infer(kind: str, a: dict[str, Any], ins: list[Shape]) -> tuple[Shape, list[Shape]]:
    """The output shape (per image) and the weight shapes, in Keras' order, of a ``kind`` layer
    with checked arguments ``a`` on inputs of shapes ``ins``."""
    shape = ins[0]

    def bias(n: int) -> list[tuple[int, ...]]:
        return [(n,)] if a.get("use_bias", True) else []

    if kind == "Dense":
        return (*shape[:-1], a["units"]), [(shape[-1], a["units"]), *bias(a["units"])]
    if kind in ("Conv2D", "DepthwiseConv2D", "SeparableConv2D"):
        kernel, strides = a["kernel_size"], a.get("strides", [1, 1])
        dilation = a.get("dilation_rate", [1, 1])
        if dilation != [1, 1] and strides != [1, 1]:
            raise ShapeError("strides and dilation above 1 together are not supported")
        h, w = _spatial(kind, shape, kernel, strides, dilation, a.get("padding", "valid"))
        channels = shape[2]
        if kind == "Conv2D":
            groups = a.get("groups", 1)
            if channels % groups or a["filters"] % groups:
                raise ShapeError(f"groups {groups} does not divide the channels")
            return (h, w, a["filters"]), [
                (*kernel, channels // groups, a["filters"]),
                *bias(a["filters"]),
            ]
        multiplier = a.get("depth_multiplier", 1)
        depthwise = (*kernel, channels, multiplier)
        if kind == "DepthwiseConv2D":
            return (h, w, channels * multiplier), [depthwise, *bias(channels * multiplier)]
        return (h, w, a["filters"]), [
            depthwise,
            (1, 1, channels * multiplier, a["filters"]),
            *bias(a["filters"]),
        ]
    if kind in ("MaxPooling2D", "AveragePooling2D"):
        pool = a["pool_size"]
        h, w = _spatial(
            kind, shape, pool, a.get("strides") or pool, [1, 1], a.get("padding", "valid")
        )
        return (h, w, shape[2]), []
    if kind in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        if len(shape) != 3:
            raise ShapeError(f"{kind} needs (height, width, channels) input, got {shape}")
        return ((1, 1, shape[2]) if a.get("keepdims") else (shape[2],)), []
    if kind == "Flatten":
        return (math.prod(shape),), []
    if kind == "Reshape":
        target = list(a["target_shape"])
        known = math.prod(d for d in target if d != -1)
        if -1 in target:
            if math.prod(shape) % known:
                raise ShapeError(f"cannot reshape {shape} to {tuple(target)}")
            target[target.index(-1)] = math.prod(shape) // known
        if math.prod(target) != math.prod(shape):
            raise ShapeError(f"cannot reshape {shape} to {tuple(target)}")
        return tuple(target), []
    if kind == "BatchNormalization":
        if a["axis"] not in (-1, len(shape)):
            raise ShapeError(f"axis {a['axis']}: only the last (channel) axis is supported")
        c = shape[-1]
        return shape, [(c,)] * (int(a.get("scale", True)) + int(a.get("center", True)) + 2)
    if kind == "ZeroPadding2D":
        (top, bottom), (left, right) = a["padding"]
        if len(shape) != 3:
            raise ShapeError(f"ZeroPadding2D needs (height, width, channels) input, got {shape}")
        return (shape[0] + top + bottom, shape[1] + left + right, shape[2]), []
    if kind == "Add":
        if any(s != shape for s in ins):
            raise ShapeError(f"adds tensors of different shapes {ins}")
        return shape, []
    if kind == "Concatenate":
        axis = a["axis"] % (len(shape) + 1) - 1 if a["axis"] < 0 else a["axis"] - 1
        if axis < 0 or any(
            len(s) != len(shape)
            or [d for k, d in enumerate(s) if k != axis]
            != [d for k, d in enumerate(shape) if k != axis]
            for s in ins
        ):
            raise ShapeError(f"cannot concatenate {ins} on axis {a['axis']}")
        return tuple(sum(s[axis] for s in ins) if k == axis else d for k, d in enumerate(shape)), []
    return shape, []  # Dropout, SpatialDropout2D, Activation, ReLU, Softmax, Rescaling


# -- how many images at a time -------------------------------------------------------------------

# What one scoring, parity or equivalence batch may hold in activations: every layer's output
# for every image of the batch, as float32. A model the allowlist accepts can have a wide layer
# (a Conv2D of 2,048 filters at 28x28 is 6.4 MB an image), so the batch follows the model: at a
# constant 1,024 images that model needed over 6 GB.
ACTIVATION_BUDGET_BYTES = 256 << 20
MAX_BATCH = 1024


def activation_bytes_per_image(model: Any) -> int:
    """float32 bytes of every layer's output for one image (an upper bound on what a forward
    pass keeps alive at once; the input counts too)."""
    total = 0
    for layer in model.layers:
        shapes = layer.output_shape if hasattr(layer, "output_shape") else None
        if shapes is None:
            continue
        for shape in shapes if isinstance(shapes, list) else [shapes]:
            dims = [int(d) for d in tuple(shape)[1:] if d is not None]
            total += 4 * math.prod(dims)
    return max(total, 4)


def batch_for(model: Any, budget: int = ACTIVATION_BUDGET_BYTES, cap: int = MAX_BATCH) -> int:
    """The largest batch (at most ``cap``) whose activations fit ``budget`` bytes."""
    return max(1, min(cap, budget // activation_bytes_per_image(model)))
