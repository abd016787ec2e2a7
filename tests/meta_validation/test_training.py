"""Tests of meta_validation.training: curves agree with the reference loop."""

import math

import numpy as np

import dsl
import proxy_tasks
from meta_validation import training
from proxy_tasks import reference


def test_final_metric_matches_the_reference_loop_per_seed():
  task = proxy_tasks.get("linear_regression", steps=30)
  program = dsl.library.load("adamw")
  curves = training.train(task, program, seeds=(0, 3), evals=4)
  assert list(curves.eval_steps) == [8, 15, 22, 30]
  assert curves.train_loss.shape == (2, 30) and curves.val_metric.shape == (2, 4)
  for row, seed in enumerate((0, 3)):
    _, metric, losses = reference.train(task, program, seed)
    np.testing.assert_allclose(curves.final[row], float(metric), rtol=1e-4)
    np.testing.assert_allclose(curves.train_loss[row], np.asarray(losses), rtol=1e-4)
  # The metric falls over training on this convex problem.
  assert np.all(curves.val_metric[:, -1] < curves.val_metric[:, 0])


def test_steps_to_reach_and_divergence():
  task = proxy_tasks.get("quadratic", steps=20)
  curves = training.train(task, dsl.library.load("adamw"), seeds=(0,), evals=5)
  assert curves.steps_to_reach(math.inf) == int(curves.eval_steps[0])
  assert curves.steps_to_reach(float(curves.final[0])) <= 20
  assert curves.steps_to_reach(-1.0) is None
  exploding = dsl.parse("def train(w, g, lr):\n  u = g * -1e30\n  u = u * 1e30\n  return u\n")
  bad = training.train(task, exploding, seeds=(0,), evals=5)
  assert not bad.ok and math.isnan(bad.final[0])


def test_progress_callback_reaches_the_last_step():
  task = proxy_tasks.get("quadratic", steps=10)
  seen = []
  training.train(task, dsl.library.load("sgd"), seeds=(1,), evals=3,
                 on_chunk=lambda done, total: seen.append((done, total)))
  assert seen[-1] == (10, 10) and [d for d, _ in seen] == sorted(d for d, _ in seen)
