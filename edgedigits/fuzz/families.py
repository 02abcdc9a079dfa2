"""The families of files edgedigits reads, one entry each: its seed files, how a case mutates
one, and the entry that reads the case, as a user's command would.

* ``keras``, ``h5``: a model file read as data (``model_import.read_as_data``: the zip or HDF5
  container, the config through the allowlist, every weight array checked), the boundary every
  ``import``, ``export`` and ``bench`` of a file passes first. Accepted cases can also be taken
  through the whole ``edgedigits import`` (``runner.deep_import``).
* ``tflite``, ``onnx``, ``ort``: an artifact in a model folder, with the manifest and golden
  hashes updated to the mutated bytes (else ``verify`` stops at the hash), checked by
  ``edgedigits verify``: loaded and run in its runtime, golden vectors replayed.
* ``golden.json``, ``manifest.json``: the records themselves (the golden hash updated), by
  ``edgedigits verify``.
* ``idx``, ``npz``: a ``--data`` source, read by ``load_dataset`` as ``train --data`` reads it.
* ``pyproject.toml``: a project's ``[tool.edgedigits]``, read and checked as ``edgedigits ci``
  and every command given no names read it.
* ``png``, ``jpeg``: a user's picture, read as ``edgedigits classify`` and ``--data DIR`` read
  it (``preprocess.pictures.read_gray``) and prepared by the preprocessing contract.

Adding a family is one ``Family`` in ``FAMILIES``; the runner never branches on its name.
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import io
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.errors import EdgeDigitsError
from edgedigits.fuzz.mutate import (
    Region,
    mutate_bytes,
    mutate_json_text,
    mutate_zip_member,
)

SEED_FOLDER = Path("exports") / "seed004_cnn"

Entry = Callable[[], int]  # what the case's process runs: the exit code a user would see


@dataclass(frozen=True)
class Family:
    name: str
    entry: str  # what reads a case, for the results table
    seeds: Callable[[Path], list[Path]]  # the seed root -> the seed files
    mutate: Callable[[np.random.Generator, bytes], bytes]
    stage: Callable[[bytes, Path, Path, Path], Entry]  # data, seed file, root, case dir
    warm: Callable[[Path], None] = lambda _root: None  # once, before the cases fork


def as_cli(command: str, read: Callable[[], object]) -> Entry:
    """``read`` as the CLI runs a command: an ``EdgeDigitsError`` is its one line and exit 1."""

    def entry() -> int:
        import sys

        try:
            read()
        except EdgeDigitsError as exc:
            print(f"edgedigits {command}: error: {exc}", file=sys.stderr)
            return 1
        return 0

    return entry


# -- model files ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=16)
def h5_metadata_regions(data: bytes) -> tuple[Region, ...]:
    """The byte ranges of an HDF5 file that are not array data (superblock, object headers,
    B-trees, heaps): where a mutation changes what the parser walks, not a weight's value."""
    import h5py

    spans = []
    with h5py.File(io.BytesIO(data), "r") as fh:

        def visit(_name: str, node: object) -> None:
            if isinstance(node, h5py.Dataset):
                offset = node.id.get_offset()
                if offset is not None:
                    spans.append((offset, offset + node.id.get_storage_size()))

        fh.visititems(visit)
    regions, at = [], 0
    for start, end in sorted(spans):
        if start > at:
            regions.append((at, start))
        at = max(at, end)
    if at < len(data):
        regions.append((at, len(data)))
    return tuple(regions)


def mutate_h5(rng: np.random.Generator, data: bytes) -> bytes:
    """Bytes, aimed at the metadata; or (three cases in ten) the ``model_config`` JSON rewritten
    through h5py, so the HDF5 stays valid and the config reaches the allowlist."""
    if rng.random() < 0.3:
        rewritten = _mutate_h5_config(rng, data)
        if rewritten is not None:
            return rewritten
    try:
        regions = h5_metadata_regions(data)
    except (OSError, ValueError, KeyError, RuntimeError):
        regions = ()
    return mutate_bytes(rng, data, regions)


def _mutate_h5_config(rng: np.random.Generator, data: bytes) -> bytes | None:
    import h5py

    buffer = io.BytesIO(data)
    with h5py.File(buffer, "r+") as fh:
        config = fh.attrs.get("model_config")
        if config is None:
            return None
        text = config if isinstance(config, bytes) else str(config).encode()
        mutated = mutate_json_text(rng, text).decode("utf-8", "replace")
        fh.attrs["model_config"] = mutated.replace("\0", "")  # HDF5 strings hold no NUL
    return buffer.getvalue()


def mutate_keras(rng: np.random.Generator, data: bytes) -> bytes:
    """One member of the ``.keras`` zip (config, metadata or weights), zipped again; one case in
    seven mutates the zip's own bytes."""
    if rng.random() < 0.15:
        return mutate_bytes(rng, data)
    return mutate_zip_member(
        rng,
        data,
        {"config.json": 0.4, "metadata.json": 0.1, "model.weights.h5": 0.5},
        {
            "config.json": mutate_json_text,
            "metadata.json": mutate_json_text,
            "model.weights.h5": mutate_h5,
        },
    )


def _models(suffix: str) -> Callable[[Path], list[Path]]:
    return lambda root: sorted((root / "models").glob(f"*{suffix}"))


def _stage_model_file(data: bytes, seed: Path, _root: Path, case: Path) -> Entry:
    path = case / f"model{seed.suffix}"
    path.write_bytes(data)

    def read() -> None:
        from edgedigits.model_files.weights import open_model_file
        from edgedigits.model_import import read_as_data

        with open_model_file(path) as held:
            read_as_data(held, str(path))

    return as_cli("import", read)


# -- a model folder, read by verify --------------------------------------------------------------


def _folder_copy(root: Path, case: Path) -> Path:
    """The seed model folder, its files linked (never written: a case replaces files whole)."""
    folder = case / SEED_FOLDER.name
    folder.mkdir()
    for item in (root / SEED_FOLDER).iterdir():
        os.link(item, folder / item.name)
    return folder


def _replace(path: Path, data: bytes) -> None:
    path.unlink()
    path.write_bytes(data)


def _rehash_golden(folder: Path) -> None:
    """The manifest's record of golden.json made to match it (as if the change were shipped)."""
    manifest = json.loads((folder / "manifest.json").read_bytes())
    body = (folder / "golden.json").read_bytes()
    manifest["golden"].update(sha256=hashlib.sha256(body).hexdigest(), size_bytes=len(body))
    _replace(folder / "manifest.json", json.dumps(manifest).encode())


def _warm_verify(root: Path) -> None:
    """Verify the seed folder once here, so each forked case starts with verify's imports,
    schemas and runtimes' libraries loaded (a case then takes ~0.1 s instead of ~0.4 s). The
    runners are closed again before any fork: no runtime thread pool is alive to be copied."""
    from edgedigits.verify import verify

    if not verify([str(root / SEED_FOLDER)]).passed:
        raise RuntimeError(f"{root / SEED_FOLDER}: the seed folder does not verify")


def _warm_model_files(_root: Path) -> None:
    import edgedigits.model_files.weights  # noqa: F401
    import edgedigits.model_import  # noqa: F401


def _warm_data(_root: Path) -> None:
    import edgedigits.data  # noqa: F401


def _verify(folder: Path) -> Entry:
    def entry() -> int:
        from edgedigits.cli import main

        return main(["verify", str(folder)])

    return entry


def _stage_artifact(data: bytes, seed: Path, root: Path, case: Path) -> Entry:
    folder = _folder_copy(root, case)
    _replace(folder / seed.name, data)
    digest = hashlib.sha256(data).hexdigest()
    manifest = json.loads((folder / "manifest.json").read_bytes())
    for record in manifest["artifacts"]:
        if record["file"] == seed.name:
            record.update(sha256=digest, size_bytes=len(data))
    golden = json.loads((folder / "golden.json").read_bytes())
    if seed.name in golden["artifacts"]:
        golden["artifacts"][seed.name]["sha256"] = digest
    _replace(folder / "golden.json", json.dumps(golden).encode())
    _replace(folder / "manifest.json", json.dumps(manifest).encode())
    _rehash_golden(folder)
    return _verify(folder)


def _stage_golden(data: bytes, _seed: Path, root: Path, case: Path) -> Entry:
    folder = _folder_copy(root, case)
    _replace(folder / "golden.json", data)
    _rehash_golden(folder)
    return _verify(folder)


def _stage_manifest(data: bytes, _seed: Path, root: Path, case: Path) -> Entry:
    folder = _folder_copy(root, case)
    _replace(folder / "manifest.json", data)
    return _verify(folder)


def _artifacts(suffix: str) -> Callable[[Path], list[Path]]:
    return lambda root: sorted((root / SEED_FOLDER).glob(f"*{suffix}"))


# -- data ----------------------------------------------------------------------------------------


def mutate_idx(rng: np.random.Generator, data: bytes) -> bytes:
    """An IDX file, gzipped or not: its header (magic, type, rank, dimensions) four cases in
    ten; gzipped again unless the gzip stream itself is mutated (one case in five)."""
    gzipped = data[:2] == b"\x1f\x8b"
    if gzipped and rng.random() < 0.2:
        return mutate_bytes(rng, data)
    body = gzip.decompress(data) if gzipped else data
    rank = body[3] if len(body) > 3 else 0
    header = [(0, 4 + 4 * rank)] if rng.random() < 0.4 else None
    body = mutate_bytes(rng, body, header)
    return gzip.compress(body, mtime=0) if gzipped else body


def _idx_files(root: Path) -> list[Path]:
    return sorted((root / "data" / "idx").iterdir())


def _stage_idx(data: bytes, seed: Path, _root: Path, case: Path) -> Entry:
    folder = case / "idx"
    shutil.copytree(seed.parent, folder)
    _replace(folder / seed.name, data)

    def read() -> None:
        from edgedigits.data import load_dataset

        load_dataset(folder)

    return as_cli("train", read)


def _npy_header_or_body(rng: np.random.Generator, data: bytes) -> bytes:
    """A ``.npy`` member: its header (magic, version, length, the dict of dtype and shape) half
    the time, else anywhere."""
    return mutate_bytes(rng, data, [(0, 128)] if rng.random() < 0.5 else None)


def mutate_npz(rng: np.random.Generator, data: bytes) -> bytes:
    if rng.random() < 0.2:
        return mutate_bytes(rng, data)
    names = ("x_train.npy", "y_train.npy", "x_test.npy", "y_test.npy")
    return mutate_zip_member(
        rng, data, dict.fromkeys(names, 1.0), dict.fromkeys(names, _npy_header_or_body)
    )


def _stage_npz(data: bytes, _seed: Path, _root: Path, case: Path) -> Entry:
    path = case / "digits.npz"
    path.write_bytes(data)

    def read() -> None:
        from edgedigits.data import load_dataset

        load_dataset(path)

    return as_cli("train", read)


def _stage_config(data: bytes, _seed: Path, _root: Path, case: Path) -> Entry:
    path = case / "pyproject.toml"
    path.write_bytes(data)

    def read() -> None:
        from edgedigits.project_config import check_names, load_config

        check_names(load_config(path))

    return as_cli("ci", read)


def _stage_picture(data: bytes, seed: Path, _root: Path, case: Path) -> Entry:
    path = case / seed.name
    path.write_bytes(data)

    def read() -> None:
        from edgedigits.preprocess import prepare
        from edgedigits.preprocess.pictures import read_gray

        prepare(read_gray(path))

    return as_cli("classify", read)


# -- the registry --------------------------------------------------------------------------------

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "keras",
            "import (read as data)",
            _models(".keras"),
            mutate_keras,
            _stage_model_file,
            _warm_model_files,
        ),
        Family(
            "h5",
            "import (read as data)",
            _models(".h5"),
            mutate_h5,
            _stage_model_file,
            _warm_model_files,
        ),
        Family(
            "tflite", "verify", _artifacts(".tflite"), mutate_bytes, _stage_artifact, _warm_verify
        ),
        Family("onnx", "verify", _artifacts(".onnx"), mutate_bytes, _stage_artifact, _warm_verify),
        Family("ort", "verify", _artifacts(".ort"), mutate_bytes, _stage_artifact, _warm_verify),
        Family(
            "golden.json",
            "verify",
            lambda root: [root / SEED_FOLDER / "golden.json"],
            mutate_json_text,
            _stage_golden,
            _warm_verify,
        ),
        Family(
            "manifest.json",
            "verify",
            lambda root: [root / SEED_FOLDER / "manifest.json"],
            mutate_json_text,
            _stage_manifest,
            _warm_verify,
        ),
        Family(
            "idx", "train --data (load_dataset)", _idx_files, mutate_idx, _stage_idx, _warm_data
        ),
        Family(
            "npz",
            "train --data (load_dataset)",
            lambda root: [root / "data" / "digits.npz"],
            mutate_npz,
            _stage_npz,
            _warm_data,
        ),
        Family(
            "png",
            "classify (read_gray, the contract)",
            lambda root: [root / "pictures" / "digit.png"],
            mutate_bytes,
            _stage_picture,
        ),
        Family(
            "jpeg",
            "classify (read_gray, the contract)",
            lambda root: [root / "pictures" / "digit.jpg"],
            mutate_bytes,
            _stage_picture,
        ),
        Family(
            "pyproject.toml",
            "ci (the project configuration)",
            lambda root: [root / "project" / "pyproject.toml"],
            mutate_bytes,
            _stage_config,
        ),
    )
}
