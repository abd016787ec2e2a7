"""The fitness cache: scores of programs already trained, keyed by what they compute.

The paper's search trained only 20-30K of the 200-300K programs it generated: 89% of the
children were recognised as already scored (Chen et al., 2023, Sec. 2.1: hit rate 89.1 +-
0.6%). ``FitnessCache.key`` is the functional fingerprint (``dsl.functional_fingerprint``),
computed once per semantic hash:

  key(p) = memo[semantic_hash(p)]   or, on a memo miss,   functional_fingerprint(p)

The semantic hash is cheap (~30 us) and catches renamings, dead code, reordering, commutative
operands; the fingerprint (~0.2 ms) also catches algebraic twins (``x + x`` and ``x * 2``) and
falls back to the semantic hash when a program's updates are not finite (see
``dsl.hashing.functional_fingerprint``). The memo is rebuilt as programs are seen.

Scores: higher is better; a failed run scores ``-inf`` (``dsl.ranked_fitness``: NaN and +inf
are recorded as ``-inf``). A second score under a key is averaged in; the mean of scores that
include ``-inf`` is ``-inf``.

The cache lives in memory: a search rebuilds it on resume from its run folder's event log
(``RunFolder.scores``), which is the one durable record of every score.
"""

from __future__ import annotations

import dataclasses

from dsl import hashing
from dsl.program import Program
from dsl.scores import ranked_fitness


@dataclasses.dataclass
class _Entry:
  total: float = 0.0  # sum of the scores (-inf once a run failed)
  count: int = 0

  @property
  def mean(self) -> float:
    return self.total / self.count


class FitnessCache:
  """Mean fitness of every program scored so far, keyed by ``key(program)``."""

  def __init__(self):
    self.hits = 0
    self.misses = 0
    self._entries: dict[str, _Entry] = {}
    self._fingerprints: dict[str, str] = {}  # semantic hash -> key

  def key(self, program: Program) -> str:
    """The key ``program`` is cached under (see the module docstring)."""
    symbolic = hashing.semantic_hash(program)
    key = self._fingerprints.get(symbolic)
    if key is None:
      key = hashing.functional_fingerprint(program)
      self._fingerprints[symbolic] = key
    return key

  def get(self, key: str) -> float | None:
    """The mean fitness recorded under ``key``, or None; counts a hit or a miss."""
    entry = self._entries.get(key)
    if entry is None:
      self.misses += 1
      return None
    self.hits += 1
    return entry.mean

  def peek(self, key: str) -> float | None:
    """Like ``get``, without counting a hit or a miss."""
    entry = self._entries.get(key)
    return None if entry is None else entry.mean

  def put(self, key: str, fitness: float) -> None:
    """Records a score for ``key`` (averaged with earlier ones)."""
    if not isinstance(key, str) or not key:
      raise ValueError(f"cache keys are non-empty strings (FitnessCache.key), got {key!r}")
    entry = self._entries.setdefault(key, _Entry())
    entry.total += ranked_fitness(fitness)
    entry.count += 1

  @property
  def hit_rate(self) -> float:
    lookups = self.hits + self.misses
    return self.hits / lookups if lookups else 0.0

  def __len__(self) -> int:
    return len(self._entries)

  def __contains__(self, key: str) -> bool:
    return key in self._entries

  def items(self):
    """``(key, mean fitness, count)`` for every cached program."""
    return [(key, e.mean, e.count) for key, e in self._entries.items()]

  def __repr__(self) -> str:
    return f"FitnessCache({len(self)} programs, hits={self.hits}, misses={self.misses})"
