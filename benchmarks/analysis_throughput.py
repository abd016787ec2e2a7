"""Throughput of the analysis a search runs on every child before training anything.

  python benchmarks/analysis_throughput.py [--programs 2000] [--repeats 3]

"Analysis" is validity (abstract execution over types) + dependency tracking and cross-step
liveness + the semantic hash, i.e. ``dsl.semantic_hash`` (which does all three), on programs of
10 to 30 statements: half random (``search.mutation.random_program``), half built-ins mutated
until that long (what a search produces). Also measured: the functional fingerprint and the
full cache key path (``FitnessCache.key``: semantic hash, then the fingerprint on a memo miss).
Timed on one core (this process), best of ``--repeats``. Targets (issue 3): analysis >= 20,000
programs/s, fingerprint >= 2,000 programs/s; training one program costs seconds, so the
figures below also print how many analyses / fingerprints fit in one 4 ms budget.

The last line is a JSON object with the figures.
"""

from __future__ import annotations

import argparse
import copy
import json
import pathlib
import sys
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import dsl  # pylint: disable=wrong-import-position
from dsl import fingerprint  # pylint: disable=wrong-import-position
from search.mutation import mutate, random_program  # pylint: disable=wrong-import-position


def programs(count: int, seed: int = 0) -> list[dsl.Program]:
  rng = np.random.default_rng(seed)
  out = []
  builtins = [dsl.library.load(name) for name in ("adamw", "lion", "program8", "tiger")]
  while len(out) < count:
    if len(out) % 2 == 0:
      out.append(random_program(rng, int(rng.integers(0, 5)), int(rng.integers(10, 31))))
      continue
    program = builtins[int(rng.integers(len(builtins)))]
    target = int(rng.integers(10, 31))
    while not 10 <= len(program.statements) <= 30 or len(program.statements) < target - 2:
      program, _ = mutate(program, rng, weights={"insert": 2.0, "delete": 0.5, "modify": 1.0})
    out.append(program)
  return out


def best_rate(function, items, repeats: int) -> float:
  """Programs/s of ``function`` on never-analysed copies (a program memoises its analysis)."""
  best = float("inf")
  for _ in range(repeats):
    fresh = [copy.copy(item) for item in items]  # copies leave the memo behind
    start = time.perf_counter()
    for item in fresh:
      function(item)
    best = min(best, time.perf_counter() - start)
  return len(items) / best


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--programs", type=int, default=2000)
  parser.add_argument("--repeats", type=int, default=3)
  args = parser.parse_args()
  sample = programs(args.programs)
  lengths = [len(p.statements) for p in sample]
  fingerprint.impls()  # one-time: build and check the NumPy twins of the table

  validity = best_rate(dsl.infer_types, sample, args.repeats)
  analysis = best_rate(dsl.semantic_hash, sample, args.repeats)
  redundant = np.mean([len(dsl.redundant_statements(p)) / len(p.statements) for p in sample])
  fingerprints = best_rate(dsl.functional_fingerprint, sample, args.repeats)

  def key_path(items):
    cache = dsl.FitnessCache()
    for item in items:
      cache.key(item)
  fresh = [copy.copy(item) for item in sample]
  start = time.perf_counter()
  key_path(fresh)
  key_cold = len(fresh) / (time.perf_counter() - start)
  figures = {
      "programs": len(sample),
      "statements_min": min(lengths), "statements_max": max(lengths),
      "statements_mean": round(float(np.mean(lengths)), 1),
      "redundant_fraction": round(float(redundant), 3),
      "validity_per_s": round(validity),
      "analysis_per_s": round(analysis),
      "fingerprint_per_s": round(fingerprints),
      "cache_key_cold_per_s": round(key_cold),
      "analysis_target_ratio": round(analysis / 20_000, 2),
      "fingerprint_target_ratio": round(fingerprints / 2_000, 2),
      "fingerprint_cost_vs_analysis": round(analysis / fingerprints, 1),
      "analyses_per_4ms": round(analysis * 0.004, 1),
      "fingerprints_per_4ms": round(fingerprints * 0.004, 1),
  }
  print(f"{len(sample)} programs of {min(lengths)}-{max(lengths)} statements "
        f"(mean {np.mean(lengths):.1f}), {redundant:.1%} of statements redundant")
  print(f"validity (abstract execution over types): {validity:10,.0f} programs/s")
  print(f"analysis (validity + liveness + hash):    {analysis:10,.0f} programs/s "
        f"({analysis / 20_000:.2f}x the 20,000/s target)")
  print(f"functional fingerprint:                   {fingerprints:10,.0f} programs/s "
        f"({fingerprints / 2_000:.2f}x the 2,000/s target; {analysis / fingerprints:.1f}x "
        "the cost of an analysis)")
  print(f"cache key, cold memo:                     {key_cold:10,.0f} programs/s")
  print(json.dumps(figures))


if __name__ == "__main__":
  main()
