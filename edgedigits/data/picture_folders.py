"""A folder of the user's own pictures, one subfolder per label, as a dataset.

``DIR/0/*.png``, ``DIR/1/*.jpg``, ... ``DIR/9/``: each picture (PNG, JPEG, GIF, BMP, WebP; any
size, either polarity) is read by ``preprocess.pictures`` and becomes the 28x28 image the model
sees through the preprocessing contract, so calibration, parity and accuracy are measured on what
an app's users hand over, prepared as the app prepares them. With ``DIR/train/<label>/`` and
``DIR/test/<label>/`` the two splits are those; with label folders only, both splits are all the
pictures (calibrating and checking parity on them is sound; training on them and testing on the
same pictures is not, and the source line says so). Pictures with no ink are refused by name:
a label folder is the user's claim that each holds a digit.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.errors import DataError
from edgedigits.preprocess import prepare
from edgedigits.preprocess.pictures import is_picture, read_gray

LABELS = tuple(str(k) for k in range(10))
MAX_PICTURES = 100_000  # per split: the bound on what a folder can make us read


def is_picture_folder(folder: Path) -> bool:
    """True when ``folder`` has label subfolders (0-9), or train/ and test/ with them."""
    for root in (folder, folder / "train", folder / "test"):
        if root.is_dir() and any((root / label).is_dir() for label in LABELS):
            return True
    return False


def _split(root: Path, flag: str) -> tuple[np.ndarray, np.ndarray]:
    stray = sorted(
        p.name for p in root.iterdir() if p.name not in LABELS and not p.name.startswith(".")
    )
    if stray:
        raise DataError(
            f"{flag} {root}: {stray[0]!r} is not a label folder (expected only 0 to 9, one "
            "subfolder per digit)"
        )
    files: list[tuple[Path, int]] = []
    for label in LABELS:
        folder = root / label
        if not folder.is_dir():
            continue
        for path in sorted(folder.iterdir()):
            if path.name.startswith("."):
                continue
            if not is_picture(path):
                raise DataError(f"{flag} {path}: not a picture file (.png, .jpg, ...)")
            files.append((path, int(label)))
            if len(files) > MAX_PICTURES:
                raise DataError(f"{flag} {root}: over {MAX_PICTURES:,} pictures")
    if not files:
        raise DataError(f"{flag} {root}: no pictures in its label folders")
    images = np.zeros((len(files), 28, 28), np.uint8)
    for k, (path, _label) in enumerate(files):
        prepared = prepare(read_gray(path))
        if prepared.empty:
            raise DataError(f"{flag} {path}: no ink found (an empty picture in a label folder)")
        images[k] = prepared.pixels
    labels = np.array([label for _path, label in files], np.uint8)
    images.setflags(write=False)
    labels.setflags(write=False)
    return images, labels


def load_picture_folder(folder: str | Path, flag: str = "--data") -> tuple[tuple, str]:
    """((train_images, train_labels, test_images, test_labels), source line)."""
    folder = Path(folder)
    if (folder / "train").is_dir() and (folder / "test").is_dir():
        train = _split(folder / "train", flag)
        test = _split(folder / "test", flag)
        source = f"pictures in {folder} (train/ and test/, through {_contract()})"
        return (*train, *test), source
    both = _split(folder, flag)
    source = (
        f"pictures in {folder} ({len(both[1])}, through {_contract()}; the same pictures are "
        "both splits)"
    )
    return (*both, *both), source


def _contract() -> str:
    from edgedigits.contract.preprocessing import NAME

    return NAME
