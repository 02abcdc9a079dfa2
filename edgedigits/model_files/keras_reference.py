"""Run a model file in the Keras that wrote it: the reference side of import's equivalence check.

Run as a script, never imported by the toolkit: ``python -I keras_reference.py WRITER MODEL X Y``
in a fresh empty folder (``-I``: no current folder or user site on ``sys.path``, no ``PYTHON*``
variables), after ``keras_json`` has passed the file through its allowlist, so the only classes
Keras can reach are its own built-in layers. ``WRITER`` is ``keras`` (Keras 3, loaded with
``safe_mode=True``) or ``tf_keras`` (Keras 2). Reads images from ``X`` (.npy), writes the
model's outputs to ``Y`` (.npy) and prints the Keras version. Exit 3: that Keras is not
installed; exit 4: it is, and cannot load or run the file (what it said on stderr, marked).
"""

import os
import sys

REFUSED = "edgedigits-reference-refused: "
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ["KERAS_BACKEND"] = "tensorflow"


def _refused(exc: BaseException) -> int:
    """Keras cannot load or run the file: one marked line naming what it said, exit 4."""
    lines = [line for line in str(exc).strip().splitlines() if line.strip()]
    said = f"{type(exc).__name__}: {lines[0][:200]}" if lines else type(exc).__name__
    print(f"{REFUSED}{said}", file=sys.stderr)
    return 4


def main(writer: str, model_path: str, x_path: str, y_path: str) -> int:
    import numpy as np

    x = np.load(x_path, allow_pickle=False)
    try:
        if writer == "keras":
            import keras

            model = keras.saving.load_model(model_path, compile=False, safe_mode=True)
        else:
            import tf_keras as keras

            model = keras.models.load_model(model_path, compile=False, safe_mode=True)
    except ImportError as exc:
        print(f"{writer} is not installed ({exc})", file=sys.stderr)
        return 3
    except Exception as exc:  # noqa: BLE001 - whatever Keras says of the file is the answer
        return _refused(exc)
    try:
        y = model.predict(x, batch_size=32, verbose=0)
    except Exception as exc:  # noqa: BLE001
        return _refused(exc)
    np.save(y_path, np.asarray(y, dtype=np.float32), allow_pickle=False)
    print(keras.__version__)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
