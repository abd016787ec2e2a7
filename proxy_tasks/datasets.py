"""Real data that installed packages ship: nothing is downloaded, ever.

* ``digits``: scikit-learn's 8x8 handwritten digits (1797 images, 10 classes; read by
  ``sklearn.datasets.load_digits`` from a file inside the package). Pixels are scaled to
  [0, 1]. Split: a fixed permutation (``numpy.random.default_rng(0)``); the first 1500 images
  train, the other 297 validate.
* ``sklearn_text``: the dataset descriptions scikit-learn ships
  (``sklearn/datasets/descr/*.rst``), concatenated in file-name order, as bytes (vocabulary
  256; about 43 kB with scikit-learn 1.9). The first 90% train, the last 10% validate. The
  corpus is whatever the installed scikit-learn holds; ``text_fingerprint`` names it (sha256)
  so results from different installs are not mixed silently.
"""

from __future__ import annotations

import functools
import hashlib
import pathlib

import numpy as np

DIGITS_TRAIN = 1500
TEXT_TRAIN_FRACTION = 0.9


@functools.lru_cache(maxsize=None)
def digits() -> dict[str, np.ndarray]:
  """``{"x_train": [1500, 64] float32, "y_train": [1500] int32, "x_val", "y_val"}``."""
  from sklearn.datasets import load_digits  # pylint: disable=import-outside-toplevel
  bunch = load_digits()
  x = (bunch.data / 16.0).astype(np.float32)
  y = bunch.target.astype(np.int32)
  order = np.random.default_rng(0).permutation(len(x))
  train, val = order[:DIGITS_TRAIN], order[DIGITS_TRAIN:]
  return {"x_train": x[train], "y_train": y[train], "x_val": x[val], "y_val": y[val]}


def _text_files() -> list[pathlib.Path]:
  import sklearn.datasets  # pylint: disable=import-outside-toplevel
  directory = pathlib.Path(sklearn.datasets.__file__).parent / "descr"
  files = sorted(directory.glob("*.rst"))
  if not files:
    raise FileNotFoundError(f"{directory}: no *.rst dataset descriptions (the text corpus)")
  return files


@functools.lru_cache(maxsize=None)
def text_bytes() -> bytes:
  return b"".join(path.read_bytes() for path in _text_files())


def text_fingerprint() -> str:
  """sha256 of the text corpus (which depends on the installed scikit-learn)."""
  return hashlib.sha256(text_bytes()).hexdigest()


@functools.lru_cache(maxsize=None)
def sklearn_text() -> dict[str, np.ndarray]:
  """``{"train": uint8 bytes, "val": uint8 bytes}`` of the scikit-learn descriptions corpus."""
  data = np.frombuffer(text_bytes(), dtype=np.uint8)
  cut = int(len(data) * TEXT_TRAIN_FRACTION)
  return {"train": data[:cut].astype(np.int32), "val": data[cut:].astype(np.int32)}


@functools.lru_cache(maxsize=None)
def text_alphabet() -> np.ndarray:
  """The distinct bytes of the whole text corpus (train and validation), increasing, int32."""
  return np.unique(np.frombuffer(text_bytes(), dtype=np.uint8)).astype(np.int32)


LOADERS = {"digits": digits, "sklearn_text": sklearn_text}


def load(name: str) -> dict[str, np.ndarray]:
  if name not in LOADERS:
    raise KeyError(f"unknown dataset '{name}'; known: {', '.join(sorted(LOADERS))}")
  return LOADERS[name]()
