"""Built-in optimizer programs, as text files users can copy (``python -m dsl list``)."""

from __future__ import annotations

import pathlib

from dsl.parser import parse_file
from dsl.program import Program

DIRECTORY = pathlib.Path(__file__).parent


def names() -> list[str]:
  """Names of the built-in programs (file names without ``.py``)."""
  return sorted(p.stem for p in DIRECTORY.glob("*.py") if p.stem != "__init__")


def path(name: str) -> pathlib.Path:
  if name not in names():
    raise KeyError(f"no built-in program '{name}'; built-ins: {', '.join(names())}")
  return DIRECTORY / f"{name}.py"


def load(name: str) -> Program:
  """The built-in program ``name`` (e.g. ``"adamw"``, ``"lion"``, ``"program8"``)."""
  return parse_file(path(name))


def text(name: str) -> str:
  return path(name).read_text(encoding="utf-8")
