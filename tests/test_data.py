"""Data loading: embedded MNIST integrity, every source, and an error for every bad-data fault."""

from __future__ import annotations

import gzip
import hashlib
import shutil

import numpy as np
import pytest

from edgedigits.data import embedded_mnist_dir, load_dataset, parse_idx, read_idx
from edgedigits.data.sources import load_idx_folder, load_npz
from edgedigits.errors import DataError

from conftest import idx_bytes, write_idx_folder

# SHA-256 of the decompressed canonical files, as published by the MNIST mirrors.
CANONICAL_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}


def test_embedded_files_are_the_canonical_mnist():
    folder = embedded_mnist_dir()
    for name, digest in CANONICAL_SHA256.items():
        data = gzip.decompress((folder / f"{name}.gz").read_bytes())
        assert hashlib.sha256(data).hexdigest() == digest, name


def test_embedded_dataset_sanity_figures():
    ds = load_dataset()
    assert ds.train_images.shape == (60000, 28, 28) and ds.train_images.dtype == np.uint8
    assert ds.test_images.shape == (10000, 28, 28)
    assert np.bincount(ds.train_labels).tolist() == [
        5923,
        6742,
        5958,
        6131,
        5842,
        5421,
        5918,
        6265,
        5851,
        5949,
    ]
    assert np.bincount(ds.test_labels).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    scaled = ds.train_images / 255.0
    assert round(float(scaled.mean()), 4) == 0.1307
    assert round(float(scaled.std()), 4) == 0.3081
    assert "verified" in ds.source
    with pytest.raises(ValueError):  # shared, cached arrays are read-only
        ds.train_images[0, 0, 0] = 1


def test_idx_round_trip_raw_and_gzip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    (tmp_path / "a").write_bytes(idx_bytes(arr))
    (tmp_path / "a.gz").write_bytes(gzip.compress(idx_bytes(arr)))
    np.testing.assert_array_equal(read_idx(tmp_path / "a"), arr)
    np.testing.assert_array_equal(read_idx(tmp_path / "a.gz"), arr)


def test_idx_folder_loads_raw_and_gz(tmp_path):
    for gz in (True, False):
        folder = tmp_path / f"gz{gz}"
        arrays = write_idx_folder(folder, gz=gz)
        ds = load_dataset(folder)
        np.testing.assert_array_equal(ds.train_images, arrays["train-images-idx3-ubyte"])
        np.testing.assert_array_equal(ds.test_labels, arrays["t10k-labels-idx1-ubyte"])


def test_bad_magic_names_file():
    with pytest.raises(DataError, match=r"labels\.bin: bad magic number 0x12345678"):
        parse_idx(b"\x12\x34\x56\x78" + bytes(10), "labels.bin")


def test_non_ubyte_element_type_is_rejected():
    with pytest.raises(DataError, match="element type 0x0D is not unsigned byte"):
        parse_idx(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + bytes(4), "floats.idx")


def test_truncated_payload(tmp_path):
    data = idx_bytes(np.zeros((10, 28, 28), np.uint8))[:-100]
    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes(data)
    with pytest.raises(
        DataError,
        match=r"train-images-idx3-ubyte: truncated payload: header "
        r"promises 10x28x28 = 7840 bytes, file has 7740",
    ):
        read_idx(path)


def test_truncated_header():
    with pytest.raises(DataError, match="truncated header"):
        parse_idx(bytes([0, 0, 8, 3, 0, 0]), "x")


def test_unreadable_gzip(tmp_path):
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(b"\x1f\x8b" + b"not really gzip")
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: unreadable gzip data"):
        read_idx(path)


def test_missing_file_in_folder(idx_folder):
    folder, _ = idx_folder
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"idx: missing t10k-labels-idx1-ubyte\[\.gz\]"):
        load_idx_folder(folder)


def test_missing_file_read(tmp_path):
    with pytest.raises(DataError, match="nothere: file not found"):
        read_idx(tmp_path / "nothere")


def test_count_mismatch(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder, n_train=50)
    labels = np.zeros(49, np.uint8)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(idx_bytes(labels)))
    with pytest.raises(
        DataError, match="image/label count mismatch in train split: 50 images, 49 labels"
    ):
        load_idx_folder(folder)


def test_checksum_mismatch(tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(embedded_mnist_dir(), folder)
    labels = gzip.decompress((folder / "t10k-labels-idx1-ubyte.gz").read_bytes())
    tampered = labels[:-1] + bytes([(labels[-1] + 1) % 10])  # one label changed
    (folder / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(tampered))
    with pytest.raises(DataError, match=r"t10k-labels-idx1-ubyte\.gz: checksum mismatch"):
        load_idx_folder(folder, require_checksums=True)


def test_embedded_load_requires_checksum_file(tmp_path):
    folder = tmp_path / "mnist"
    write_idx_folder(folder)
    with pytest.raises(DataError, match="SHA256SUMS: checksum file missing"):
        load_idx_folder(folder, require_checksums=True)


def test_wrong_image_size_and_label_range(tmp_path):
    folder = tmp_path / "idx"
    write_idx_folder(folder)
    (folder / "t10k-images-idx3-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.zeros((20, 32, 32), np.uint8)))
    )
    with pytest.raises(DataError, match=r"test images have shape \(20, 32, 32\)"):
        load_idx_folder(folder)
    write_idx_folder(folder)
    (folder / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(idx_bytes(np.full(50, 11, np.uint8)))
    )
    with pytest.raises(DataError, match="train labels go up to 11"):
        load_idx_folder(folder)


def test_npz_source(tmp_path):
    rng = np.random.default_rng(1)
    arrays = dict(
        x_train=rng.integers(0, 256, (30, 28, 28), dtype=np.uint8),
        y_train=rng.integers(0, 10, 30, dtype=np.uint8),
        x_test=rng.integers(0, 256, (10, 28, 28), dtype=np.uint8),
        y_test=rng.integers(0, 10, 10, dtype=np.uint8),
    )
    np.savez(tmp_path / "mnist.npz", **arrays)
    ds = load_dataset(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(ds.train_images, arrays["x_train"])
    del arrays["y_test"]
    np.savez(tmp_path / "partial.npz", **arrays)
    with pytest.raises(DataError, match=r"partial\.npz: missing array\(s\) y_test"):
        load_npz(tmp_path / "partial.npz")


def test_npz_never_unpickles(tmp_path):
    objects = np.array([{"a": 1}] * 3, dtype=object)
    np.savez(
        tmp_path / "evil.npz", x_train=objects, y_train=objects, x_test=objects, y_test=objects
    )
    with pytest.raises(DataError, match=r"evil\.npz: cannot read without unpickling"):
        load_npz(tmp_path / "evil.npz")


def test_npz_not_a_zip(tmp_path):
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(DataError, match=r"bad\.npz: not a readable \.npz file"):
        load_npz(tmp_path / "bad.npz")


def test_data_flag_errors(tmp_path):
    with pytest.raises(DataError, match="--data .*nowhere: no such file or folder"):
        load_dataset(tmp_path / "nowhere")
    (tmp_path / "x.csv").write_text("1,2")
    with pytest.raises(DataError, match=r"x\.csv: not a folder of IDX files, a \.npz file"):
        load_dataset(tmp_path / "x.csv")
    with pytest.raises(DataError, match="unknown Keras dataset"):
        load_dataset("keras:cifar10")


def test_keras_download_failure_is_one_clear_line(monkeypatch):
    import tf_keras

    def offline():
        raise Exception("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(tf_keras.datasets.fashion_mnist, "load_data", offline)
    with pytest.raises(
        DataError,
        match=r"--data keras:fashion_mnist: download failed .*omit "
        r"--data to use the embedded MNIST",
    ):
        load_dataset("keras:fashion_mnist")
