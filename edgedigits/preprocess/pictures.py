"""Picture files (PNG, JPEG, ...) read into gray pixels, bounded whatever the file claims.

An app's users hand over photos and screenshots, not IDX files. ``read_gray(path)`` opens one
through ``inputs.open_regular`` (a regular file under ``MAX_FILE_BYTES``), lets Pillow read the
header only, refuses a frame over ``MAX_PIXELS`` before a pixel is decoded (a 20000x20000
header is a decompression bomb: 400 MB of gray, 1.6 GB of RGBA), refuses more than one frame
(an animated GIF: which frame would be the digit?), and converts every mode Pillow decodes to
8-bit gray with the contract's luma weights: palette and RGB(A) through RGB; 16-bit gray by its
high byte; CMYK through Pillow's RGB conversion. Anything else is refused in one line that
names the file.
"""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np

from edgedigits.errors import DataError
from edgedigits.inputs import open_regular
from edgedigits.preprocess import gray_from_rgb

FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp")
MAX_FILE_BYTES = 64 * 1024 * 1024
MAX_PIXELS = 40_000_000  # a 12 MP phone photo is 12,000,000; 40 MP is 40 MB of gray


def read_gray(path: str | Path) -> np.ndarray:
    """The picture at ``path`` as a 2-D uint8 gray array (see the module docstring)."""
    from PIL import Image, UnidentifiedImageError

    path = Path(path)

    def fail(reason: str) -> DataError:
        return DataError(f"{path}: {reason}")

    try:
        with open_regular(path, fail, MAX_FILE_BYTES) as (handle, _size):
            data = handle.read()
    except FileNotFoundError:
        raise fail("no such file") from None
    too_big = (
        f"pixels, over the {MAX_PIXELS:,}-pixel limit (a decompression bomb, or a picture to "
        "scale down first)"
    )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            picture = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise fail(f"more than {Image.MAX_IMAGE_PIXELS:,} {too_big}") from None
    except UnidentifiedImageError:
        raise fail(f"not a picture edgedigits reads ({', '.join(FORMATS)})") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise fail(f"a damaged or unsupported picture ({_one_line(exc)})") from None
    try:
        with picture:
            width, height = picture.size
            if width * height > MAX_PIXELS:
                raise fail(f"{width}x{height} {too_big}")
            frames = getattr(picture, "n_frames", 1)
            if frames > 1:
                raise fail(f"{frames} frames (an animation); give one picture of one digit")
            return _to_gray(picture, fail)
    except DataError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as exc:
        raise fail(f"a damaged or unsupported picture ({_one_line(exc)})") from None


def _to_gray(picture, fail) -> np.ndarray:

    picture.load()
    mode = picture.mode
    if mode == "L":
        return np.asarray(picture, dtype=np.uint8).copy()
    if mode in ("I;16", "I;16B", "I;16L", "I", "I;16N"):
        wide = np.asarray(picture).astype(np.int64)
        top = 65535 if mode.startswith("I;16") or wide.max(initial=0) > 255 else 255
        return (np.clip(wide, 0, top) * 255 // top).astype(np.uint8)
    if mode in ("1", "P", "PA", "LA", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "La", "RGBa"):
        rgb = picture.convert("RGB") if mode != "RGB" else picture
        return gray_from_rgb(np.asarray(rgb, dtype=np.uint8))
    if mode == "F":
        raise fail("a floating-point picture; save it as 8-bit gray or RGB")
    raise fail(f"pixel mode {mode!r} is not read; save it as 8-bit gray or RGB")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


def is_picture(path: Path) -> bool:
    return path.suffix.lower() in SUFFIXES
