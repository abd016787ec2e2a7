"""Tests of the replay CLI: table, JSON, PNG next to the program; bad input exits 2."""

import json

import pytest

import dsl
from meta_validation import replay
from proxy_tasks import tuning


def test_replay_writes_record_table_and_plot_next_to_the_program(tmp_path, capsys):
  program_path = tmp_path / "found.py"
  text = dsl.library.text("program1")  # Lion as printed: no learning-rate constant
  program_path.write_text(text)
  assert replay.main([str(program_path), "--task", "quadratic", "--seeds", "2", "--steps", "30",
                      "--budget", "12", "--quiet"]) == 0
  assert program_path.read_text() == text  # never clobbered
  stem = str(tmp_path / "found.quadratic.replay")
  record = json.loads(open(stem + ".json").read())
  assert [r["optimizer"] for r in record["rows"]] == ["adamw", "adamw_bc", "lion", "found"]
  assert record["eval_seeds"] == [0, 1] and record["task"]["steps"] == 30
  for row in record["rows"]:
    assert len(row["final_per_seed"]) == 2 and row["tuning"]["runs"] >= 12
    assert row["curves"]["eval_steps"][-1] == 30
    metrics = [t["metric"] for t in row["tuning"]["trials"] if isinstance(t["metric"], float)]
    assert row["tuning"]["best_metric"] == min(metrics)
    assert set(row["hyperparameters"]) >= {"lr", "schedule"}
  adamw, adamw_bc, lion, found = record["rows"]
  # The bar is the better of the two AdamWs (as the paper writes it, and bias-corrected).
  better = min((adamw, adamw_bc), key=lambda r: r["final_mean"])
  assert record["reference"] == better["optimizer"]
  assert better["log_adamw_over_metric"] == 0.0 and better["steps_to_adamw_final"] is not None
  # Lion as printed tunes exactly like the library's Lion.
  assert found["hyperparameters"] == lion["hyperparameters"]
  assert found["final_mean"] == pytest.approx(lion["final_mean"], rel=1e-4)
  assert open(stem + ".png", "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
  table = open(stem + ".md").read()
  out = capsys.readouterr()
  assert "| found | lr=" in table and table in out.out
  assert "runs 12/12" in out.err or "runs 1" in out.err  # the tuning report


def test_replay_out_folder_and_baseline_named_program(tmp_path):
  program_path = tmp_path / "lion.py"
  program_path.write_text(dsl.library.text("lion"))
  out = tmp_path / "out"
  assert replay.main([str(program_path), "--task", "quadratic", "--seeds", "1", "--steps", "10",
                      "--budget", "4", "--space", "lion:lr", "--quiet", "--out", str(out)]) == 0
  record = json.loads((out / "lion.quadratic.replay.json").read_text())
  assert [r["optimizer"] for r in record["rows"]] == ["adamw", "adamw_bc", "lion",
                                                       "lion (program)"]
  assert set(record["rows"][2]["hyperparameters"]) == {"lr"}  # narrowed by --space


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "no such program file"),
    (["bad.py"], "bad.py:2:"),
    (["good.py", "--task", "nope"], "unknown proxy task 'nope'"),
    (["good.py", "--seeds", "0"], "--seeds"),
    (["good.py", "--budget", "0"], "--budget"),
    (["good.py", "--space", "adamx:lr"], "unknown optimizer 'adamx'"),
    (["good.py", "--space", "adamw:momentum"], "unknown axis 'momentum'"),
    (["good.py", "--space", "adamw"], "expected NAME:AXIS"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys, args, message):
  monkeypatch.chdir(tmp_path)
  (tmp_path / "bad.py").write_text("def train(w, g, lr):\n  u = nosuch(g)\n  return u\n")
  (tmp_path / "good.py").write_text(dsl.library.text("sgd"))
  assert replay.main(args) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and "\n" not in err
  assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.py", "good.py"]


def _row(optimizer, per_seed):
  mean = sum(per_seed) / len(per_seed)
  return {"optimizer": optimizer, "hyperparameters": {"lr": 1e-3}, "final_mean": mean,
          "final_std": 0.0 if mean == mean else float("nan"), "final_per_seed": per_seed,
          "log_adamw_over_metric": 0.0 if mean == mean else float("nan"),
          "steps_to_adamw_final": None,
          "tuning": {"best": {"lr": 1e-3}, "best_metric": 1.0, "runs": 4, "at_limit": [],
                     "program": dsl.library.text("sgd"), "trials": []}}


def test_dead_statements_are_pruned_before_scoring_and_a_diverged_row_says_so(
    tmp_path, monkeypatch, capsys):
  """A program of mostly dead statements is replayed without them (scored as its live part);
  a row whose seeds diverged shows that, not ``nan ± nan``."""
  program_path = tmp_path / "padded.py"
  lion = dsl.library.load("lion")
  body = lion.to_text().splitlines()
  dead = [f"  dead_{i} = {lion.gradient} * {i + 1}.0" for i in range(2000)]
  program_path.write_text("\n".join(body[:1] + dead + body[1:]) + "\n")
  replayed = []

  def fake_replay(program, task_name, *args, **kwargs):  # records what would be trained
    replayed.append(program)
    return {"task": {"name": task_name, "steps": 30}, "eval_seeds": [0, 1], "metric": "loss",
            "budget": 4, "tune_seed": 0,
            "rows": [_row("adamw", [1.0, 1.0]), _row("padded", [float("nan"), 2.0])],
            "seconds": 0.0}

  monkeypatch.setattr(replay, "replay", fake_replay)
  monkeypatch.setattr(replay, "write", lambda record, paths: None)
  assert replay.main([str(program_path), "--task", "quadratic", "--quiet"]) == 0
  assert replayed == [dsl.prune(dsl.parse_file(program_path))]
  assert len(replayed[0].statements) == len(lion.statements)
  out, err = capsys.readouterr()
  assert err.startswith(f"{program_path}: 2000 of {2000 + len(lion.statements)} statements are "
                        "dead (no update depends on them); replaying the program without them\n")
  assert "| padded | lr=0.001 | 4 | diverged on 1 of 2 seeds | - | - |" in out
  assert "nan" not in out


def test_several_programs_replay_against_one_tuning_of_the_baselines_on_later_seeds():
  """A mapping of programs is one replay (the baselines tuned once, each program its own row),
  trained on seeds ``first_seed ..``: other seeds than a funnel selected a program on."""
  programs = {"lion": dsl.library.load("lion"), "sgd": dsl.library.load("sgd_momentum")}
  record = replay.replay(programs, "quadratic", seeds=2, first_seed=3, budget=8, steps=30)
  assert [r["optimizer"] for r in record["rows"]] == ["adamw", "adamw_bc", "lion",
                                                      "lion (program)", "sgd"]
  assert record["eval_seeds"] == [3, 4]
  assert set(record["programs"]) == {"lion (program)", "sgd"}
  rows = {r["optimizer"]: r for r in record["rows"]}
  assert rows["lion (program)"]["final_mean"] == pytest.approx(rows["lion"]["final_mean"],
                                                               rel=1e-4)
  earlier = replay.replay(programs["sgd"], "quadratic", seeds=2, budget=8, steps=30,
                          label="sgd")
  assert earlier["eval_seeds"] == [0, 1]
  assert earlier["rows"][-1]["final_per_seed"] != rows["sgd"]["final_per_seed"]
