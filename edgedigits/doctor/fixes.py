"""Rewrites that keep a model's float function and remove a quantization pitfall.

``fold_batchnorm``: a BatchNormalization after an activation (``Dense(relu) -> BatchNorm``) is,
at inference, a per-channel affine map ``y = a * x + b`` with ``a = gamma / sqrt(var + eps)`` and
``b = beta - a * mean``. It cannot be folded into the layer *before* it (the ReLU is in between),
which is why tfmot's QAT refuses it and why the TFLite converter quantizes it as its own ops. It
can be folded *forward*, exactly, into the next layer that is linear in its input:

* a ``Dense``: ``W' = a[:, None] * W``, ``c' = b @ W + c``;
* a ``Conv2D`` with ``valid`` padding: ``K' = K * a[c]``, ``bias' = bias + sum K * b[c]`` (with
  ``same`` padding the zero border would be shifted by ``b``: not exact, not folded);
* through ``Dropout`` (identity at inference), ``Flatten`` (``a`` and ``b`` tiled over the
  positions) and ``MaxPooling2D`` when every ``a > 0`` (max commutes with an increasing map).

Where no exact fold exists, the BatchNormalization becomes an equivalent layer tfmot quantizes:
a 1x1 ``DepthwiseConv2D`` (4-D) or a diagonal ``Dense`` (2-D) with the same ``a`` and ``b``.
Every rewrite is checked on test images by the caller (``assert_equivalent``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from edgedigits.errors import UsageError

PASS_THROUGH = ("Dropout",)


@dataclass
class Rewrite:
    model: Any
    changes: list[str] = field(default_factory=list)  # one line per BatchNormalization handled


def _affine(bn: Any) -> tuple[np.ndarray, np.ndarray]:
    gamma = bn.gamma.numpy() if bn.gamma is not None else 1.0
    beta = bn.beta.numpy() if bn.beta is not None else 0.0
    mean, var = bn.moving_mean.numpy(), bn.moving_variance.numpy()
    a = gamma / np.sqrt(var + bn.epsilon)
    return a.astype(np.float64), (beta - a * mean).astype(np.float64)


def _clone(layer: Any) -> Any:
    """A fresh layer with ``layer``'s settings, made through the import allowlist
    (``keras_json.layer_spec``), never Keras' ``from_config``: one way to build layers."""
    from edgedigits.model_files.keras_layers import layer_spec
    from edgedigits.model_files.rebuild import make_layer

    return make_layer(layer_spec(type(layer).__name__, layer.get_config()))


def _foldable_after(layer: Any) -> bool:
    """A BatchNormalization that the TFLite converter and tfmot already fold (after a linear
    Conv/Dense) is left alone."""
    from edgedigits.doctor.lint import FOLDABLE_INTO, activation_name

    return type(layer).__name__ in FOLDABLE_INTO and activation_name(layer) == "linear"


def fold_batchnorm(model: Any) -> Rewrite:
    """A float-equivalent copy of a Sequential ``model`` without BatchNormalization after an
    activation (see the module docstring)."""
    from edgedigits._tf import tf_keras

    keras = tf_keras()
    if not isinstance(model, keras.Sequential):
        raise UsageError(f"{model.name}: the BatchNormalization rewrite handles Sequential models")
    layers = list(model.layers)
    # (layer, weights): an original layer (rebuilt from its config) or a new one
    plan: list[tuple[Any, list[np.ndarray]]] = []
    new_layers: set[int] = set()
    weights = {layer.name: [w.copy() for w in layer.get_weights()] for layer in layers}
    changes: list[str] = []
    for k, layer in enumerate(layers):
        kind = type(layer).__name__
        if kind != "BatchNormalization" or (k and _foldable_after(layers[k - 1])):
            plan.append((layer, weights[layer.name]))
            continue
        a, b = _affine(layer)
        target, through = _fold_target(layers, k, a)
        if target is not None:
            _fold_into(target, weights, a, b, through)
            changes.append(
                f"{layer.name}: folded into {target.name}"
                + (f" through {', '.join(t.name for t in through)}" if through else "")
            )
            continue  # the BatchNormalization disappears
        replacement, values = _equivalent_layer(layer, a, b, keras)
        plan.append((replacement, values))
        new_layers.add(id(replacement))
        changes.append(f"{layer.name}: replaced by an equivalent {type(replacement).__name__}")
    rebuilt = keras.Sequential(name=model.name)
    rebuilt.add(keras.Input(model.input_shape[1:]))
    for layer, values in plan:
        fresh = layer if id(layer) in new_layers else _clone(layer)
        rebuilt.add(fresh)
        if values:
            fresh.set_weights(values)
    return Rewrite(rebuilt, changes)


def _fold_target(layers: list[Any], k: int, a: np.ndarray) -> tuple[Any | None, list[Any]]:
    """The layer after ``layers[k]`` that the affine map folds into exactly, and the layers it
    passes through on the way; (None, []) when there is none."""
    through = []
    for layer in layers[k + 1 :]:
        kind = type(layer).__name__
        if kind in PASS_THROUGH or kind == "Flatten":
            through.append(layer)
            continue
        if kind == "MaxPooling2D" and np.all(a > 0):
            through.append(layer)
            continue
        if kind == "Dense":
            return layer, through
        if (
            kind == "Conv2D"
            and layer.get_config().get("padding") == "valid"
            and not any(type(t).__name__ == "Flatten" for t in through)
        ):
            return layer, through
        return None, []
    return None, []


def _fold_into(
    target: Any,
    weights: dict[str, list[np.ndarray]],
    a: np.ndarray,
    b: np.ndarray,
    through: list[Any],
) -> None:
    kernel, *rest = weights[target.name]
    bias = rest[0] if rest else None
    if type(target).__name__ == "Dense":
        if any(type(t).__name__ == "Flatten" for t in through):
            positions = kernel.shape[0] // a.size  # Flatten of (H, W, C): channel is the fastest
            a, b = np.tile(a, positions), np.tile(b, positions)
        new_kernel = a[:, None] * kernel
        shift = b @ kernel
    else:  # Conv2D, valid padding: kernel (kh, kw, c_in, c_out)
        new_kernel = kernel * a[None, None, :, None]
        shift = np.einsum("hwio,i->o", kernel, b)
    if bias is None:
        raise UsageError(f"{target.name}: has no bias to fold a BatchNormalization into")
    weights[target.name] = [
        new_kernel.astype(kernel.dtype),
        (bias + shift).astype(bias.dtype),
        *rest[1:],
    ]


def _equivalent_layer(bn: Any, a: np.ndarray, b: np.ndarray, keras: Any) -> tuple[Any, list]:
    ndim = len(bn.input_shape)
    if ndim == 4:
        layer = keras.layers.DepthwiseConv2D(1, use_bias=True, name=f"{bn.name}_affine")
        values = [a.reshape(1, 1, -1, 1).astype(np.float32), b.astype(np.float32)]
    elif ndim == 2:
        layer = keras.layers.Dense(a.size, name=f"{bn.name}_affine")
        values = [np.diag(a).astype(np.float32), b.astype(np.float32)]
    else:
        raise UsageError(f"{bn.name}: a BatchNormalization on {ndim}-D tensors is not rewritten")
    return layer, values


def assert_equivalent(original: Any, rewritten: Any, x: np.ndarray, atol: float = 1e-4) -> float:
    """The rewrite's promise, checked: same outputs on ``x``; returns the max abs difference."""
    before = np.asarray(original(x, training=False))
    after = np.asarray(rewritten(x, training=False))
    diff = float(np.max(np.abs(before - after)))
    if diff > atol:
        raise RuntimeError(
            f"the BatchNormalization rewrite changed outputs by {diff:.3g} (allowed {atol:g})"
        )
    return diff
