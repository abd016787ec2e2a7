"""What the search asks of the program analysis in ``dsl`` (cache keys, redundancy, pruning).

The search uses ``dsl.FitnessCache`` (keyed by the functional fingerprint, see ``dsl.cache``),
``dsl.redundant_statements`` and ``dsl.prune``. ``text_key`` is a cheap exact-text key for tests
and benchmarks that must not depend on the cache's key scheme.
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
  def put(self, key: str, fitness: float) -> None: ...


def text_key(program: Program) -> str:
  """SHA-256 of the canonical text: identical programs (after parsing) share a key."""
  return hashlib.sha256(program.to_text().encode("utf-8")).hexdigest()


def make_cache() -> Cache:
  """``dsl.FitnessCache()`` in memory: the run folder's events rebuild it on resume."""
  return dsl.FitnessCache()


def redundant_fraction(program: Program) -> float:
  """The fraction of statements that cannot affect the update (cross-step liveness included)."""
  if not program.statements:
    return 0.0
  return len(dsl.redundant_statements(program)) / len(program.statements)


def pruned(program: Program) -> Program:
  """``dsl.prune(program)``: the program without its redundant statements."""
  return dsl.prune(program)
