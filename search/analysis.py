"""What the search asks of the program analysis in ``dsl`` (cache keys, redundancy, pruning).

The search uses ``dsl.FitnessCache`` (keyed by ``dsl.semantic_hash``), ``dsl.redundant_statements``
and ``dsl.prune``. Where one of them is not available (it raises ``NotImplementedError`` while
it is being built), the fallbacks here keep the search correct, only less clever: programs are
keyed by their canonical text (identical text, not equivalent meaning, is recognised),
redundancy is not measured (``None``) and the best program is written unpruned.
"""

from __future__ import annotations

import hashlib
from typing import Protocol

import dsl
from dsl.program import Program


class Cache(Protocol):
  """The part of ``dsl.FitnessCache`` the search uses."""
  hits: int
  misses: int

  def key(self, program: Program) -> str: ...
  def get(self, key: str) -> float | None: ...
  def needs_rescore(self, key: str) -> bool: ...
  def put(self, key: str, fitness: float) -> None: ...


def text_key(program: Program) -> str:
  """SHA-256 of the canonical text: identical programs (after parsing) share a key."""
  return hashlib.sha256(program.to_text().encode("utf-8")).hexdigest()


class TextKeyedCache:
  """A minimal in-memory fitness cache keyed by ``text_key`` (mean of the scores it saw)."""

  def __init__(self):
    self._sums: dict[str, tuple[float, int]] = {}
    self.hits = 0
    self.misses = 0

  def key(self, program: Program) -> str:
    return text_key(program)

  def get(self, key: str) -> float | None:
    if key in self._sums:
      self.hits += 1
      total, count = self._sums[key]
      return total / count
    self.misses += 1
    return None

  def needs_rescore(self, key: str) -> bool:
    del key
    return False

  def put(self, key: str, fitness: float) -> None:
    total, count = self._sums.get(key, (0.0, 0))
    self._sums[key] = (total + fitness, count + 1)

  @property
  def hit_rate(self) -> float:
    asked = self.hits + self.misses
    return self.hits / asked if asked else 0.0

  def __len__(self) -> int:
    return len(self._sums)


def make_cache() -> Cache:
  """``dsl.FitnessCache()`` (in memory: the run folder's events rebuild it on resume), or the
  text-keyed fallback while that is not built."""
  try:
    return dsl.FitnessCache()
  except NotImplementedError:
    return TextKeyedCache()


def _available(function, program: Program) -> bool:
  try:
    function(program)
  except NotImplementedError:
    return False
  return True


_ADAMW = dsl.library.load("adamw")
HAS_REDUNDANCY = _available(dsl.redundant_statements, _ADAMW)
HAS_PRUNE = _available(dsl.prune, _ADAMW)


def redundant_fraction(program: Program) -> float | None:
  """The fraction of statements that cannot affect the update (``None`` if not measured)."""
  if not HAS_REDUNDANCY:
    return None
  if not program.statements:
    return 0.0
  return len(dsl.redundant_statements(program)) / len(program.statements)


def pruned(program: Program) -> Program:
  """``dsl.prune(program)``: the program without its redundant statements (or as it is)."""
  return dsl.prune(program) if HAS_PRUNE else program
