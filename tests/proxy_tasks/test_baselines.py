"""Baselines: a grid made by rewriting program constants, stored atomically."""

import json

import dsl
from dsl import hyperparameters
from proxy_tasks import baselines


def test_hyperparameters_rewrite_the_constants():
  adamw = hyperparameters.with_hyperparameters(dsl.library.load("adamw"), lr=0.003, wd=0.1)
  text = adamw.to_text()
  assert "lr = lr * 0.003" in text and "wd = w * 0.1" in text
  lion = hyperparameters.with_hyperparameters(dsl.library.load("lion"), lr=3e-4)
  assert "lr = lr * 0.0003" in lion.to_text() and "weight * 0.1" in lion.to_text()


def test_run_writes_the_grid_and_the_best_points(tmp_path):
  grids = {"adamw": {"lr": (1e-3, 1e-2), "wd": (0.0,)}, "lion": {"lr": (1e-4,), "wd": (0.1,)}}
  content = baselines.run("quadratic", tmp_path, grids=grids, steps=20)
  stored = json.loads((tmp_path / "quadratic.json").read_text())
  assert len(stored["points"]) == 3 and stored["best"]["adamw"]["lr"] == 1e-2
  assert content["best"]["lion"]["status"] == "ok"
  assert not list(tmp_path.glob(".*tmp"))  # no temporary file left


def test_cli_rejects_an_unknown_task(capsys):
  assert baselines.main(["--task", "nope"]) == 2
  assert "unknown proxy task 'nope'" in capsys.readouterr().err


def test_the_best_adamw_point_is_the_fitness_reference(tmp_path):
  grids = {"adamw": {"lr": (1e-3, 1e-2), "wd": (0.0, 0.01)}}
  content = baselines.run("quadratic", tmp_path, grids=grids, steps=20)
  # The evaluator's reference is tuned on the full GRIDS["adamw"], which holds these points.
  assert content["reference"] == "tuned_adamw"
  assert all(p["fitness"] <= 1e-6 for p in content["points"])
