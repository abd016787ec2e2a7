"""Crash-safe file output shared by every package: a reader sees the old file or the new one.

A week-long search is killed at arbitrary moments, so no output is ever written in place.
"""

from __future__ import annotations

import math
import os
import pathlib
import tempfile


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
  """Replaces ``path`` with ``data``: a temporary file in the same folder, fsync, ``os.replace``.

  The folder is fsynced too, so the rename survives a power cut. On failure the temporary file
  is removed and the old ``path`` is untouched; an ``OSError`` (a folder that cannot be
  written, a full disk) names ``path``, not the temporary file.
  """
  path = pathlib.Path(path)
  if isinstance(data, str):
    data = data.encode("utf-8")
  try:
    descriptor, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp",
                                             dir=path.parent)
  except OSError as error:
    raise OSError(error.errno, error.strerror, str(path)) from error
  try:
    os.chmod(temporary, 0o644)  # mkstemp makes it private; these are ordinary output files
    with os.fdopen(descriptor, "wb") as f:
      f.write(data)
      f.flush()
      os.fsync(f.fileno())
    os.replace(temporary, path)
  except BaseException as error:
    if os.path.exists(temporary):
      os.unlink(temporary)
    if isinstance(error, OSError) and error.errno is not None:
      raise OSError(error.errno, error.strerror, str(path)) from error
    raise
  fsync_directory(path.parent)


def fsync_directory(folder: str | os.PathLike) -> None:
  """Makes the renames and deletions in ``folder`` durable (a no-op where unsupported)."""
  try:
    descriptor = os.open(folder, os.O_RDONLY)
  except OSError:
    return
  try:
    os.fsync(descriptor)
  except OSError:
    pass  # some file systems cannot fsync a folder; the rename is still atomic
  finally:
    os.close(descriptor)


def json_float(value) -> float | str:
  """``value`` as a JSON number, or the string ``"inf"``, ``"-inf"``, ``"nan"`` when it is not
  finite (strict JSON has no such numbers; ``float(text)`` reads them back)."""
  value = float(value)
  return value if math.isfinite(value) else str(value)


def float_from_json(value) -> float:
  """Inverse of ``json_float``: a number, or one of its strings, as a float. ``None`` (what
  files written before ``json_float`` hold for a non-finite number) is NaN. Raises
  ``ValueError`` for anything else (a bool, a string that is not a number)."""
  if value is None:
    return math.nan
  if isinstance(value, bool) or not isinstance(value, (int, float, str)):
    raise ValueError(f"expected a number, got {value!r}")
  if isinstance(value, str) and value.strip().lower() not in ("inf", "-inf", "nan", "+inf"):
    raise ValueError(f"expected a number or \"inf\", \"-inf\", \"nan\", got {value!r}")
  return float(value)


def json_safe(value):
  """``value`` with every float inside its dicts, lists and tuples made ``json_float``."""
  if isinstance(value, float):
    return json_float(value)
  if isinstance(value, dict):
    return {k: json_safe(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [json_safe(v) for v in value]
  return value
