"""examples/: a found program exported with dsl.to_optax trains a model in a plain optax loop."""

import pathlib
import runpy
import shutil

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "train_with_optax.py"


@pytest.fixture(scope="module")
def example():
  return runpy.run_path(str(EXAMPLE))  # defines main() without running it


def test_an_exported_program_trains_the_mlp(example, capsys):
  assert example["main"]([str(ROOT / "dsl/library/adamw.py"), "--steps", "60"]) == 0
  lines = capsys.readouterr().out.splitlines()
  losses = [float(line.split("validation loss ")[1].split()[0]) for line in lines]
  assert len(losses) == 2 and all(0.0 < loss < 2.3 for loss in losses)  # below chance (ln 10)


def test_a_bad_program_file_exits_2(example, tmp_path, capsys):
  bad = tmp_path / "bad.py"
  bad.write_text("def train(w, g, lr):\n  u = nope(g)\n  return u\n")
  assert example["main"]([str(bad), "--steps", "5"]) == 2
  assert "bad.py:2" in capsys.readouterr().err


CUSTOM = ROOT / "examples" / "custom_task"


@pytest.mark.slow
def test_the_own_task_example_runs_end_to_end(tmp_path, monkeypatch, capsys):
  """docs/own_task.md on a small budget: search on the user's model (its module imported from
  the working directory), inspect runs/, replay the best on the user's larger task, export
  it with dsl.to_optax and train the model with it."""
  from meta_validation import replay  # pylint: disable=import-outside-toplevel
  from search import run  # pylint: disable=import-outside-toplevel
  project = tmp_path / "custom_task"
  shutil.copytree(CUSTOM, project)
  monkeypatch.chdir(project)
  monkeypatch.syspath_prepend(str(project))  # as `python -m` puts the working directory first
  assert run.main(["search.yaml", "--quiet", "--set", "workers.backend=local",
                   "--set", "budget.max_programs=8", "--set", "task.overrides.steps=30",
                   "--set", "task.overrides.tuning_budget=8",
                   "--set", "evolution.population_size=4"]) == 0
  best = project / "runs" / "diabetes" / "programs" / "best.py"
  assert best.is_file() and (project / "runs" / "diabetes" / "events.jsonl").is_file()
  config = (project / "runs" / "diabetes" / "config.yaml").read_text()
  assert "diabetes_task:make_task" in config
  assert replay.main([str(best), "--task", "diabetes_task:make_task_10x", "--steps", "10",
                      "--seeds", "1", "--budget", "4", "--quiet"]) == 0
  table = project / "runs" / "diabetes" / "programs" / "best.diabetes_task.make_task_10x.replay.md"
  assert "validation mean squared error" in table.read_text()
  capsys.readouterr()
  example = runpy.run_path(str(project / "train_with_optax.py"))
  assert example["main"]([str(best), "--steps", "20"]) == 0
  lines = capsys.readouterr().out.splitlines()
  errors = [float(line.split("validation MSE ")[1].split()[0]) for line in lines]
  assert len(errors) == 2 and all(0.0 < error < 10.0 for error in errors)


def _is_program_file(path):  # a program in the paper's syntax, not a Python script
  code = [line for line in path.read_text(encoding="utf-8").splitlines()
          if line.strip() and not line.startswith("#")]
  return bool(code) and code[0].startswith("def train(")


RESULT_PROGRAMS = sorted(filter(_is_program_file, (ROOT / "docs" / "results").rglob("*.py")))


@pytest.mark.parametrize("path", RESULT_PROGRAMS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_program_in_the_results_parses(path):
  import dsl  # pylint: disable=import-outside-toplevel
  dsl.parse(path.read_text(encoding="utf-8"))


def test_the_rediscovery_winner_is_the_replayed_simplification():
  """winner.py is the simplified program at the replay's tuned point, renamed for reading."""
  import json  # pylint: disable=import-outside-toplevel
  import dsl  # pylint: disable=import-outside-toplevel
  folder = ROOT / "docs" / "results" / "rediscovery"
  replay = json.loads((folder / "winners" / "replay.json").read_text(encoding="utf-8"))
  tuned = next(row["tuned_program"] for row in replay["rows"]
               if row["optimizer"].endswith("_simplified"))
  winner = dsl.parse((folder / "winner.py").read_text(encoding="utf-8"))
  assert dsl.semantic_hash(winner) == dsl.semantic_hash(dsl.parse(tuned))
  assert dsl.effective_states(winner) == 0
