"""Tests of funnel selection on a fake run folder with tiny toy stages."""

import csv
import json

import pytest

import dsl
from meta_validation import funnel
from tests.meta_validation import helpers

TASKS = {"10x": helpers.TASK_10X, "100x": helpers.TASK_100X}


def test_read_candidates_unique_best_first(tmp_path):
  programs = helpers.make_run(tmp_path)
  candidates = funnel.read_candidates(tmp_path, top_k=10)
  assert [c.fitness for c in candidates] == [0.9, 0.5, 0.0, -1.0]  # lion once, at its best
  assert candidates[1].program == programs["lion"]
  assert len(funnel.read_candidates(tmp_path, top_k=2)) == 2


def test_funnel_promotes_only_programs_that_beat_tuned_adamw(tmp_path):
  helpers.make_run(tmp_path)
  record = funnel.funnel(tmp_path, top_k=4, seeds=2, tasks=TASKS, log=lambda _: None)
  ten = record["stages"]["10x"]
  adamw = ten["baselines"]["adamw"]["mean"]
  promoted = [i for i, p in zip(ten["candidates"], ten["programs"]) if p["mean"] < adamw]
  assert [i for i, p in zip(ten["candidates"], ten["programs"]) if p["beats_adamw"]] == promoted
  assert promoted, "the lr=0.05, wd=0 AdamW should beat the grid's best on the quadratic"
  hundred = record["stages"]["100x"]
  assert hundred["candidates"] == promoted
  adamw100 = hundred["baselines"]["adamw"]["mean"]
  survivors = [i for i, p in zip(promoted, hundred["programs"]) if p["mean"] < adamw100]
  assert record["survivors"] == survivors
  folder = tmp_path / "funnel"
  files = sorted(p.name for p in (folder / "survivors").iterdir())
  assert len(files) == len(survivors)
  for name, index in zip(files, survivors):
    text = (folder / "survivors" / name).read_text()
    assert dsl.parse(text) == dsl.parse(record["candidates"][index]["program"])
  rows = list(csv.DictReader((folder / "funnel.csv").open()))
  assert [r["program"] for r in rows][:2] == ["adamw", "lion"] and len(rows) == 2 + 4
  assert json.loads((folder / "funnel.json").read_text())["survivors"] == survivors
  assert "| rank 1 |" in (folder / "funnel.md").read_text()


def test_cli_errors_exit_2(tmp_path, capsys):
  assert funnel.main([str(tmp_path / "nope")]) == 2
  assert "config.yaml: no such file" in capsys.readouterr().err
  helpers.make_run(tmp_path)
  assert funnel.main([str(tmp_path), "--task-10x", "nope"]) == 2
  assert "'nope' is not registered" in capsys.readouterr().err
  assert funnel.main([str(tmp_path), "--top-k", "0"]) == 2
  assert not (tmp_path / "funnel").exists()


def test_default_tasks_come_from_the_run_config(tmp_path):
  helpers.make_run(tmp_path)
  assert funnel.proxy_task_of(tmp_path) == "quadratic"
  with pytest.raises(KeyError, match="quadratic_10x"):  # no 10x of the toy family is built in
    funnel.funnel(tmp_path, top_k=1, seeds=1, log=lambda _: None)
