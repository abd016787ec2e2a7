"""Hyperparameters as program constants: rewriting them and the grids."""

import pytest

import dsl
from dsl import hyperparameters


def test_rewriting_changes_only_the_two_constants():
  adamw = dsl.library.load("adamw")
  tuned = hyperparameters.with_hyperparameters(adamw, lr=0.03, wd=0.0)
  changed = [(a, b) for a, b in zip(adamw.statements, tuned.statements) if a != b]
  assert len(changed) == 2 and len(tuned.statements) == len(adamw.statements)
  assert "lr = lr * 0.03" in tuned.to_text() and "wd = w * 0.0" in tuned.to_text()


def test_the_grid_covers_every_point_once():
  spec = hyperparameters.GRIDS["adamw"]
  points = hyperparameters.grid(dsl.library.load("adamw"), spec)
  assert len(points) == len(spec["lr"]) * len(spec["wd"])
  assert len({p.to_text() for _, p in points}) == len(points)
  assert points[0][0] == {"lr": spec["lr"][0], "wd": spec["wd"][0]}


def test_a_program_without_the_statement_cannot_be_tuned():
  with pytest.raises(ValueError, match="weight decay"):
    hyperparameters.with_hyperparameters(dsl.library.load("sgd"), wd=0.1)
