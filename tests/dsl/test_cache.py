"""The fitness cache (dsl.cache): keys, statistics, re-scoring, crash-safe persistence."""

import json
import math
import os
import subprocess
import sys
import textwrap

import pytest

import dsl
from dsl.cache import CacheFileError, FitnessCache

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


def test_rescores_are_averaged_and_needs_rescore_follows_max_scores():
  cache = FitnessCache(max_scores=3)
  key = cache.key(ADAMW)
  assert not cache.needs_rescore(key)  # not cached: a first score, not a re-score
  cache.put(key, 0.6)
  assert cache.needs_rescore(key)
  cache.put(key, 0.8)
  assert cache.needs_rescore(key)
  cache.put(key, 0.7)
  assert not cache.needs_rescore(key)
  assert cache.peek(key) == pytest.approx(0.7)
  assert cache.count(key) == 3
  assert FitnessCache().needs_rescore(key) is False


def test_failed_runs_are_minus_inf_and_never_rescored():
  cache = FitnessCache(max_scores=5)
  cache.put("a", -math.inf)
  cache.put("b", 0.3)
  cache.put("b", float("nan"))  # a NaN score is a failed run
  assert cache.get("a") == -math.inf and cache.get("b") == -math.inf
  assert not cache.needs_rescore("a") and not cache.needs_rescore("b")
  cache.put("c", math.inf)  # no finite score: dsl.ranked_fitness
  assert cache.get("c") == -math.inf


def test_persisted_cache_reloads_scores_including_minus_inf(tmp_path):
  path = tmp_path / "fitness.jsonl"
  with FitnessCache(path, max_scores=2) as cache:
    cache.put("k1", 0.25)
    cache.put("k1", 0.75)
    cache.put("k2", -math.inf)
  for line in path.read_text().splitlines():
    json.loads(line, parse_constant=lambda c: pytest.fail(f"non-standard JSON {c}"))
  with FitnessCache(path, max_scores=3) as again:
    assert again.peek("k1") == 0.5 and again.count("k1") == 2
    assert again.peek("k2") == -math.inf
    assert again.needs_rescore("k1") and not again.needs_rescore("k2")
    again.put("k1", 1.0)
  assert FitnessCache.load(path).peek("k1") == pytest.approx(2.0 / 3.0)


def test_save_compacts_atomically_and_load_restores_statistics(tmp_path):
  cache = FitnessCache()
  for i in range(5):
    cache.put(f"k{i}", i / 10)
    cache.put(f"k{i}", i / 10 + 0.1)
  cache.get("k0")
  cache.get("nope")
  snapshot = tmp_path / "snapshot.jsonl"
  cache.save(snapshot)
  loaded = FitnessCache.load(snapshot)
  assert len(loaded) == 5 and loaded.peek("k3") == pytest.approx(0.35)
  assert loaded.count("k3") == 2
  assert (loaded.hits, loaded.misses) == (1, 1)
  assert [p.name for p in tmp_path.iterdir()] == ["snapshot.jsonl"]  # no temporary left


def test_save_over_its_own_log_keeps_appending(tmp_path):
  path = tmp_path / "fitness.jsonl"
  cache = FitnessCache(path, durable=False)
  for i in range(3):
    cache.put("k", float(i))
  cache.save(path)
  assert len(path.read_text().splitlines()) == 3  # header, one record, statistics
  cache.put("k", 3.0)
  cache.close()
  assert FitnessCache.load(path).peek("k") == pytest.approx(1.5)


def test_torn_last_line_is_dropped_and_appending_resumes(tmp_path):
  path = tmp_path / "fitness.jsonl"
  with FitnessCache(path) as cache:
    cache.put("k1", 0.5)
  with open(path, "a", encoding="utf-8") as f:
    f.write('{"key": "k2", "fitn')  # killed mid-write
  with FitnessCache(path) as cache:  # reopening drops the torn record, then appends
    assert cache.peek("k1") == 0.5 and "k2" not in cache
    cache.put("k3", 0.1)
  lines = path.read_text().splitlines()
  assert all(json.loads(line) for line in lines) and len(lines) == 3


def test_load_ignores_a_torn_tail_without_writing(tmp_path):
  path = tmp_path / "fitness.jsonl"
  with FitnessCache(path) as cache:
    cache.put("k1", 0.5)
  with open(path, "a", encoding="utf-8") as f:
    f.write('{"key": "k2"')
  before = path.read_bytes()
  assert FitnessCache.load(path).peek("k1") == 0.5
  assert path.read_bytes() == before


def test_killed_process_leaves_a_readable_cache(tmp_path):
  path = tmp_path / "fitness.jsonl"
  script = textwrap.dedent(f"""
      import os, signal
      from dsl.cache import FitnessCache
      cache = FitnessCache({str(path)!r}, durable=False)
      for i in range(200):
        cache.put(f"k{{i}}", i / 200)
      os.kill(os.getpid(), signal.SIGKILL)
  """)
  root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
  result = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True,
                          env={**os.environ, "PYTHONPATH": root, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == -9, result.stderr
  reloaded = FitnessCache(path)
  assert len(reloaded) == 200 and reloaded.peek("k199") == pytest.approx(199 / 200)
  reloaded.close()


@pytest.mark.parametrize("content,message", [
    ('{"format": "something-else"}\n', "not a fitness cache"),
    ('{"format": "optsearch-fitness-cache", "version": 99, "key": "x"}\n', "version 99"),
    ('{"format": "optsearch-fitness-cache", "version": 1, "key": "old-keys"}\n', "old-keys"),
    ("HEADER\n{}\n", "not a JSON record"),
    ("", "empty fitness cache"),
])
def test_bad_files_give_one_line_errors_naming_file_and_line(tmp_path, content, message):
  path = tmp_path / "bad.jsonl"
  path.write_text(content)
  with pytest.raises(CacheFileError, match=message) as error:
    FitnessCache.load(path)
  assert str(error.value).startswith(f"{path}:1: ") and "\n" not in str(error.value)


def test_bad_record_names_its_line(tmp_path):
  path = tmp_path / "bad.jsonl"
  with FitnessCache(path) as cache:
    cache.put("k", 0.5)
  with open(path, "a", encoding="utf-8") as f:
    f.write('{"key": "k", "fitness": "high"}\n')
  with pytest.raises(CacheFileError, match=f"{path}:3: fitness must be"):
    FitnessCache.load(path)
  with pytest.raises(CacheFileError):  # and the persistent cache refuses it, writing nothing
    FitnessCache(path)


def test_missing_file_for_load(tmp_path):
  with pytest.raises(CacheFileError, match="cannot read"):
    FitnessCache.load(tmp_path / "missing.jsonl")


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
