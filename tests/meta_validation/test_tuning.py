"""Tests of meta_validation.tuning: equal budgets, the multiplier rewrite, best points."""

import math

import jax.numpy as jnp
import numpy as np

import dsl
from meta_validation import tuning


def test_grids_have_the_same_size_and_one_is_a_multiplier():
  lion = dsl.library.load("lion")
  sizes = {len(tuning.grid("adamw")), len(tuning.grid("lion")), len(tuning.grid("p", lion))}
  assert len(sizes) == 1 and len(tuning.LR_MULTIPLIERS) in sizes
  assert 1.0 in tuning.LR_MULTIPLIERS
  assert tuning.grid("p", lion)[tuning.LR_MULTIPLIERS.index(1.0)].program == lion


def test_scale_update_scales_the_update_only():
  program = dsl.library.load("adamw")
  scaled = tuning.scale_update(program, 3.0)
  assert dsl.is_valid(scaled)
  w, g = {"a": jnp.ones(3)}, {"a": jnp.asarray([0.1, -0.2, 0.3])}
  states = dsl.init_states(program, w)
  update, new_states = dsl.compile(program)(w, g, states, 0.5)
  update3, new_states3 = dsl.compile(scaled)(w, g, states, 0.5)
  np.testing.assert_allclose(update3["a"], 3 * update["a"], rtol=1e-6)
  np.testing.assert_allclose(new_states3[0]["a"], new_states[0]["a"])


def test_tune_picks_the_lowest_metric_and_reports_failures():
  program = dsl.library.load("sgd")
  exploding = dsl.parse("def train(w, g, lr):\n  u = g * 1e30\n  u = u * 1e30\n  return u\n")
  grids = {"sgd": tuning.grid("sgd", program), "bad": [tuning.GridPoint("bad", {}, exploding)]}
  tuned = tuning.tune("quadratic", grids, seed=0, steps=20)
  best = tuned["sgd"]
  assert best.best_metric == min(m for m in best.metrics if math.isfinite(m))
  assert best.best is best.points[best.metrics.index(best.best_metric)]
  assert math.isnan(tuned["bad"].best_metric)
