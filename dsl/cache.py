"""The fitness cache: scores of programs already trained, keyed by what they compute.

The paper's search trained only 20-30K of the 200-300K programs it generated: 89% of the
children were recognised as already scored (Chen et al., 2023, Sec. 2.1: hit rate 89.1 +-
0.6%). ``FitnessCache.key`` is the functional fingerprint (``dsl.functional_fingerprint``),
computed once per semantic hash:

  key(p) = memo[semantic_hash(p)]   or, on a memo miss,   functional_fingerprint(p)

The semantic hash is cheap (~30 us) and catches renamings, dead code, reordering, commutative
operands; the fingerprint (~0.2 ms) also catches algebraic twins (``x + x`` and ``x * 2``) and
falls back to the semantic hash when a program's updates are not finite (see
``dsl.hashing.functional_fingerprint``). The memo is not persisted: it is rebuilt as programs
are seen.

Scores: higher is better; a failed run scores ``-inf`` (``dsl.ranked_fitness``: NaN and +inf
are recorded as ``-inf``).
A re-score is averaged in (training is noisy); the mean of scores that include ``-inf`` is
``-inf``. ``needs_rescore`` says whether a cached program should be trained again: while it has
fewer than ``max_scores`` finite scores. Programs the search keeps meeting are the ones that
win tournaments, so averaging their scores is where the noise matters.

Persistence (a week-long search will be killed): with a ``path``, every ``put`` appends one
JSON line and flushes it (and ``fsync``s it with ``durable=True``, the default) before
returning, so a kill loses at most the record being written. Loading ignores a torn last line
(no newline: the write that was killed) and truncates it before appending again; any other
malformed line is an error naming the file and line. ``save`` writes a compacted snapshot to a
temporary file and renames it over the target, so a kill leaves the old file or the new one,
never a mix. One process writes a cache file at a time.

File format (JSON lines; a failed run's score as the string "-inf")::

  {"format": "optsearch-fitness-cache", "version": 1, "key": "functional-v1/semantic-v1"}
  {"key": "<hex>", "fitness": 0.734, "n": 1}        # n scores whose mean is fitness
  {"hits": 12, "misses": 3}                         # statistics (written by save)
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
from typing import IO

from dsl import fingerprint, hashing
from dsl.files import atomic_write, float_from_json, json_float
from dsl.scores import ranked_fitness
from dsl.program import Program

FORMAT = "optsearch-fitness-cache"
VERSION = 1
KEY_SCHEME = f"{fingerprint.FINGERPRINT_VERSION}/{hashing.HASH_VERSION}"


class CacheFileError(ValueError):
  """A cache file that cannot be read: ``FILE:LINE: message``."""


@dataclasses.dataclass
class _Entry:
  total: float = 0.0  # sum of the scores (-inf once a run failed)
  count: int = 0
  finite: int = 0  # scores that were finite

  @property
  def mean(self) -> float:
    return self.total / self.count

  def add(self, fitness: float, count: int = 1) -> None:
    self.total += fitness * count
    self.count += count
    if math.isfinite(fitness):
      self.finite += count


def _decode(value, where: str) -> float:
  if value == "-inf" or (isinstance(value, (int, float)) and not isinstance(value, bool)
                         and math.isfinite(value)):
    return float_from_json(value)
  raise CacheFileError(f"{where}: fitness must be a finite number or \"-inf\", got "
                       f"{value!r}")


class FitnessCache:
  """Mean fitness of every program scored so far, keyed by ``key(program)``.

  Args:
    path: where the cache persists (appended to at every ``put``); reloaded if it exists.
      None: in memory only.
    max_scores: how many finite scores a program gets before ``needs_rescore`` says no
      (1: never re-score).
    durable: ``fsync`` every appended record (survives a machine crash, not only a kill).
  """

  def __init__(self, path: str | os.PathLike | None = None, max_scores: int = 1,
               durable: bool = True):
    if max_scores < 1:
      raise ValueError(f"max_scores must be at least 1, got {max_scores}")
    self.path = None if path is None else pathlib.Path(path)
    self.max_scores = max_scores
    self.durable = durable
    self.hits = 0
    self.misses = 0
    self._entries: dict[str, _Entry] = {}
    self._fingerprints: dict[str, str] = {}  # semantic hash -> key
    self._log: IO[str] | None = None
    if self.path is not None:
      if self.path.exists() and self._read(self.path, truncate_torn_tail=True):
        self._log = open(self.path, "a", encoding="utf-8")
      else:  # new, or killed while its header was being written
        self._log = open(self.path, "w", encoding="utf-8")
        self._append(self._header())

  # Keys.

  def key(self, program: Program) -> str:
    """The key ``program`` is cached under (see the module docstring)."""
    symbolic = hashing.semantic_hash(program)
    key = self._fingerprints.get(symbolic)
    if key is None:
      key = hashing.functional_fingerprint(program)
      self._fingerprints[symbolic] = key
    return key

  # Lookups and scores.

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

  def count(self, key: str) -> int:
    """How many scores are recorded under ``key``."""
    entry = self._entries.get(key)
    return 0 if entry is None else entry.count

  def needs_rescore(self, key: str) -> bool:
    """Whether to train the program under ``key`` again: cached, never failed, and scored
    fewer than ``max_scores`` times. (An uncached key needs a first score, not a re-score.)"""
    entry = self._entries.get(key)
    return (entry is not None and entry.finite == entry.count
            and entry.count < self.max_scores)

  def put(self, key: str, fitness: float) -> None:
    """Records a score for ``key`` (averaged with earlier ones); persisted before returning."""
    if not isinstance(key, str) or not key:
      raise ValueError(f"cache keys are non-empty strings (FitnessCache.key), got {key!r}")
    fitness = ranked_fitness(fitness)
    if self._log is not None:
      self._append({"key": key, "fitness": json_float(fitness), "n": 1})
    self._entries.setdefault(key, _Entry()).add(fitness)

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

  # Persistence.

  def save(self, path: str | os.PathLike) -> None:
    """Writes a compacted snapshot to ``path`` atomically (temporary file, then rename)."""
    path = pathlib.Path(path)
    records = [self._header()]
    records += [{"key": key, "fitness": json_float(e.mean), "n": e.count}
                for key, e in self._entries.items()]
    records.append({"hits": self.hits, "misses": self.misses})
    text = "".join(json.dumps(r) + "\n" for r in records)
    if self._log is not None and path.resolve() == self.path.resolve():
      self._log.close()  # reopened on the compacted file: appends must go to the new file
      try:
        atomic_write(path, text)
      finally:
        self._log = open(self.path, "a", encoding="utf-8")
    else:
      atomic_write(path, text)

  @classmethod
  def load(cls, path: str | os.PathLike, max_scores: int = 1) -> "FitnessCache":
    """An in-memory cache holding what ``path`` holds (``path`` is never written to)."""
    cache = cls(None, max_scores=max_scores)
    cache._read(pathlib.Path(path), truncate_torn_tail=False)
    return cache

  def close(self) -> None:
    if self._log is not None:
      self._log.close()
      self._log = None

  def __enter__(self) -> "FitnessCache":
    return self

  def __exit__(self, *exc) -> None:
    self.close()

  def __repr__(self) -> str:
    return (f"FitnessCache({len(self)} programs, hits={self.hits}, misses={self.misses}, "
            f"path={str(self.path) if self.path else None!r})")

  # Internals.

  @staticmethod
  def _header() -> dict:
    return {"format": FORMAT, "version": VERSION, "key": KEY_SCHEME}

  def _append(self, record: dict) -> None:
    self._log.write(json.dumps(record) + "\n")
    self._log.flush()
    if self.durable:
      os.fsync(self._log.fileno())

  def _read(self, path: pathlib.Path, truncate_torn_tail: bool) -> bool:
    """Adds the records of ``path``; False if it holds no complete line (with
    ``truncate_torn_tail``: a cache killed while writing its header; else an error)."""
    try:
      data = path.read_bytes()
    except OSError as e:
      raise CacheFileError(f"{path}: cannot read the fitness cache: {e.strerror}") from None
    complete = data[:data.rfind(b"\n") + 1]  # a last line without newline was torn by a kill
    if truncate_torn_tail and len(complete) < len(data):
      with open(path, "r+b") as f:
        f.truncate(len(complete))
    lines = complete.decode("utf-8", errors="replace").splitlines()
    if not lines and truncate_torn_tail:
      return False
    if not lines:
      raise CacheFileError(f"{path}:1: empty fitness cache (expected a header line "
                           f"{json.dumps(self._header())})")
    for number, line in enumerate(lines, start=1):
      where = f"{path}:{number}"
      try:
        record = json.loads(line)
      except json.JSONDecodeError:
        raise CacheFileError(f"{where}: not a JSON record: {line[:60]!r}") from None
      if not isinstance(record, dict):
        raise CacheFileError(f"{where}: expected a JSON object, got {line[:60]!r}")
      if number == 1:
        self._check_header(record, where)
      elif "key" in record:
        key, count = record.get("key"), record.get("n", 1)
        if not isinstance(key, str) or not key:
          raise CacheFileError(f"{where}: \"key\" must be a non-empty string")
        if not isinstance(count, int) or isinstance(count, bool) or count < 1:
          raise CacheFileError(f"{where}: \"n\" must be a positive integer, got {count!r}")
        fitness = _decode(record.get("fitness"), where)
        self._entries.setdefault(key, _Entry()).add(fitness, count)
      elif set(record) == {"hits", "misses"}:
        self.hits, self.misses = int(record["hits"]), int(record["misses"])
      else:
        raise CacheFileError(f"{where}: unknown record {line[:60]!r} (expected \"key\", "
                             "\"fitness\", \"n\")")
    return True

  def _check_header(self, record: dict, where: str) -> None:
    if record.get("format") != FORMAT:
      raise CacheFileError(f"{where}: not a fitness cache (expected a header "
                           f"{json.dumps(self._header())})")
    if record.get("version") != VERSION:
      raise CacheFileError(f"{where}: cache format version {record.get('version')!r}, this "
                           f"optsearch reads version {VERSION}")
    if record.get("key") != KEY_SCHEME:
      raise CacheFileError(f"{where}: keys made by {record.get('key')!r}, this optsearch "
                           f"makes {KEY_SCHEME!r}: the cached scores cannot be matched to "
                           "programs; start a new cache")
