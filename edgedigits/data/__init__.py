"""Data: the IDX reader, the sources ``--data`` can name, and the vendored MNIST files."""

from edgedigits.data.idx import parse_idx, read_idx
from edgedigits.data.sources import Dataset, embedded_mnist_dir, load_dataset

__all__ = ["Dataset", "embedded_mnist_dir", "load_dataset", "parse_idx", "read_idx"]
