"""Tests of meta_validation.scoring: per-seed metrics, tuning on a task through one evaluator."""

import math

import dsl
from meta_validation import scoring
from proxy_tasks import tuning


def test_score_per_seed_is_programs_by_seeds_with_nan_for_failures():
  exploding = dsl.parse("def train(w, g, lr):\n  u = g * 1e30\n  u = u * 1e30\n  return u\n")
  metrics = scoring.score_per_seed("quadratic", [dsl.library.load("sgd"), exploding], (0, 1),
                                   steps=20)
  assert metrics.shape == (2, 2)
  assert all(math.isfinite(m) for m in metrics[0]) and all(math.isnan(m) for m in metrics[1])


def test_tune_shares_one_compiled_evaluator_and_reports_failures():
  exploding = dsl.parse("def train(w, g, lr):\n  u = g * 1e30\n  u = u * 1e30\n  return u\n")
  evaluators = {}
  spaces = {"sgd": tuning.library_space("sgd"), "bad": tuning.space(exploding, ["lr"])}
  tuned = scoring.tune("quadratic", spaces, seed=0, budget=8, evaluators=evaluators, steps=20)
  assert len(evaluators) == 1
  assert math.isfinite(tuned["sgd"].best_metric) and tuned["bad"].failed
