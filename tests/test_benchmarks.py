"""benchmarks/: the generation benchmark measures real children (its rate is printed, not tested)."""

import pathlib
import runpy

import dsl

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_generation_benchmark_makes_valid_children_of_the_requested_drift():
  module = runpy.run_path(str(ROOT / "benchmarks" / "generation_rate.py"))  # main() not run
  rate, children = module["generation_rate"](300, population_size=50, target_length=12)
  assert rate > 0 and len(children) == 300
  assert all(dsl.is_valid(child) for child in children)
  # the stand-in fitness pulls the population towards longer programs than AdamW's four lines
  assert max(len(child.statements) for child in children[-50:]) > len(
      dsl.library.load("adamw").statements)
