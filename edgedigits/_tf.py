"""Lazy, quiet imports of TensorFlow and tf_keras.

TensorFlow takes seconds to import, so nothing imports it at module level: ``edgedigits --help``
and ``edgedigits zoo --names`` stay instant. We use tf_keras (Keras 2) rather than Keras 3 because
tensorflow-model-optimization and tf2onnx's ``from_keras`` only work with it.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from types import ModuleType


def tensorflow() -> ModuleType:
    """Import TensorFlow once, without its start-up banners (oneDNN, CUDA stub, cuInit).

    Those lines are written by C++ logging straight to stderr and say nothing actionable on a
    CPU machine. Set ``TF_CPP_MIN_LOG_LEVEL=0`` to see TensorFlow's own logs again.
    """
    if "tensorflow" in sys.modules and hasattr(sys.modules["tensorflow"], "config"):
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with native_stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices("GPU")  # initializes CUDA now, quietly, if present
    # Python-side warnings such as "triggered tf.function retracing" are expected here: we call
    # predict() on a series of different (fine-tuned) models.
    tf.get_logger().setLevel("ERROR")
    return tf


def tf_keras() -> ModuleType:
    tensorflow()
    with native_stderr_silenced():
        import tf_keras
    return tf_keras


@contextlib.contextmanager
def _fd2_redirected_to(target_fd: int) -> Iterator[None]:
    """Point file descriptor 2 at ``target_fd`` for the block (C and C++ code write there
    directly, past Python's ``sys.stderr``), flushing C's buffers before restoring it."""
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:  # no usable fd 2 (some embedded interpreters): nothing to redirect
        yield
        return
    os.dup2(target_fd, 2)
    try:
        yield
    finally:
        _flush_c_stdio()
        os.dup2(saved, 2)
        os.close(saved)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """Hide chatter that TFLite's C++ code prints straight to file descriptor 2.

    The converter prints quantization stats and LiteRT announces its XNNPACK delegate on every
    load; neither is actionable. Real failures still surface as Python exceptions.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        with _fd2_redirected_to(devnull):
            yield
    finally:
        os.close(devnull)


def _flush_c_stdio() -> None:
    """Flush C's stdio buffers so that lines a library buffered land where fd 2 points now, not
    after it is restored (LiteRT's logger buffers its stderr lines)."""
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


class CapturedText:
    """What a ``native_stderr_captured`` block wrote to file descriptor 2."""

    text: str = ""


@contextlib.contextmanager
def native_stderr_captured() -> Iterator[CapturedText]:
    """Like ``native_stderr_silenced``, but keep what was written: some runtimes give the reason
    for a failure only as C++ log lines (LiteRT's GPU accelerator: "No adapters found")."""
    import tempfile

    captured = CapturedText()
    with tempfile.TemporaryFile() as sink:
        try:
            with _fd2_redirected_to(sink.fileno()):
                yield captured
        finally:
            sink.seek(0)
            captured.text = sink.read().decode("utf-8", "replace")
