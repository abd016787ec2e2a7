"""Tests of the meta-overfitting monitor's decisions, its CSV, plot and resumption."""

import csv

import pytest

import dsl
from meta_validation import monitor


def test_due_every_n_scored_and_only_for_a_new_best(tmp_path):
  m = monitor.Monitor(tmp_path, task="mlp_digits_10x", every=10)
  adamw, lion = dsl.library.load("adamw"), dsl.library.load("lion")
  assert m.due(9, "a", adamw, 0.0) is None
  ticket, program = m.due(10, "a", adamw, 0.0)
  assert program == adamw and ticket.scored == 10
  assert m.due(11, "a", adamw, 0.0) is None  # not due again before 20
  m.record(ticket, -0.1)
  assert m.due(25, "a", adamw, 0.0) is None  # unchanged best: recorded with its old value
  ticket2, program2 = m.due(31, "b", lion, 0.3)
  assert program2 == lion
  m.record(ticket2, 0.2)
  rows = list(csv.DictReader((tmp_path / monitor.CSV_NAME).open()))
  assert [(r["scored"], r["key"], r["meta_fitness"]) for r in rows] == [
      ("10", "a", "-0.1"), ("25", "a", "-0.1"), ("31", "b", "0.2")]
  assert (tmp_path / monitor.PLOT_NAME).read_bytes()[:4] == b"\x89PNG"
  # A resumed search continues after the rows already there.
  resumed = monitor.Monitor(tmp_path, task="mlp_digits_10x", every=10)
  assert resumed.next_at == 40 and len(resumed.rows) == 3
  assert resumed.due(45, "b", lion, 0.3) is None  # b's meta fitness is known
  assert len(resumed.rows) == 4


def test_every_must_be_positive(tmp_path):
  with pytest.raises(ValueError, match="every"):
    monitor.Monitor(tmp_path, task="x", every=0)


def test_monitor_evaluator_scores_one_program_per_call_on_a_meta_task():
  evaluator = monitor.evaluator("lm_sklearn_text_10x", steps=3)
  assert evaluator.slots == 1  # 8 vmapped slots would cost 8 runs per point
  assert evaluator.task.name == "lm_sklearn_text_10x" and evaluator.task.config.steps == 3
