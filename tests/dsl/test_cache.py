"""The fitness cache (dsl.cache): keys, statistics, averaged scores, failed runs."""

import math

import pytest

import dsl
from dsl.cache import FitnessCache

ADAMW = dsl.library.load("adamw")
LION = dsl.library.load("lion")


def test_contract_in_memory():
  cache = FitnessCache()
  key = cache.key(ADAMW)
  assert isinstance(key, str) and len(key) == 32
  assert cache.get(key) is None
  cache.put(key, 0.5)
  assert cache.get(key) == 0.5
  assert (cache.hits, cache.misses, cache.hit_rate, len(cache)) == (1, 1, 0.5, 1)
  assert cache.get(cache.key(LION)) is None
  assert (cache.hits, cache.misses, len(cache)) == (1, 2, 1)


def test_key_finds_twins_and_tells_programs_apart():
  cache = FitnessCache()
  renamed = dsl.parse(ADAMW.to_text().replace("sqrt_v", "denominator"))
  twin = dsl.parse(ADAMW.to_text().replace("wd = w * 0.01", "wd = w * 0.005\n  wd = wd + wd"))
  assert dsl.semantic_hash(twin) != dsl.semantic_hash(ADAMW)
  assert cache.key(renamed) == cache.key(twin) == cache.key(ADAMW)
  assert cache.key(LION) != cache.key(ADAMW)
  assert cache.key(ADAMW) == dsl.functional_fingerprint(ADAMW)


def test_scores_are_averaged():
  cache = FitnessCache()
  key = cache.key(ADAMW)
  cache.put(key, 0.6)
  cache.put(key, 0.8)
  assert cache.peek(key) == pytest.approx(0.7)
  assert cache.items() == [(key, pytest.approx(0.7), 2)]


def test_failed_runs_are_minus_inf():
  cache = FitnessCache()
  cache.put("a", -math.inf)
  cache.put("b", 0.3)
  cache.put("b", float("nan"))  # a NaN score is a failed run
  cache.put("c", math.inf)  # no finite score: dsl.ranked_fitness
  assert cache.get("a") == cache.get("b") == cache.get("c") == -math.inf
  with pytest.raises(ValueError, match="non-empty"):
    cache.put("", 0.1)


def test_search_loop_hit_rate():
  """A toy search loop: mutated children of AdamW, many of them twins of seen programs."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  from search.mutation import mutate  # pylint: disable=import-outside-toplevel
  rng = np.random.default_rng(0)
  cache = FitnessCache()
  trained = 0
  for _ in range(200):
    child, _ = mutate(ADAMW, rng)
    key = cache.key(child)
    if cache.get(key) is None:
      trained += 1
      cache.put(key, float(rng.random()))
  assert cache.hits + cache.misses == 200 and trained == cache.misses == len(cache)
  assert cache.hit_rate > 0.2  # deletes of dead code, no-op modifies, twins
