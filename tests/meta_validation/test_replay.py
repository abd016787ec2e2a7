"""Tests of the replay CLI: table, JSON, PNG next to the program; bad input exits 2."""

import json

import pytest

import dsl
from meta_validation import replay, tuning


def test_replay_writes_record_table_and_plot_next_to_the_program(tmp_path, capsys):
  program_path = tmp_path / "found.py"
  text = dsl.library.text("lion")
  program_path.write_text(text)
  assert replay.main([str(program_path), "--task", "quadratic", "--seeds", "2", "--steps", "30",
                      "--quiet"]) == 0
  assert program_path.read_text() == text  # never clobbered
  stem = str(tmp_path / "found.quadratic.replay")
  record = json.loads(open(stem + ".json").read())
  assert [r["optimizer"] for r in record["rows"]] == ["adamw", "adamw_refined", "lion", "found"]
  assert record["eval_seeds"] == [0, 1] and record["task"]["steps"] == 30
  for row in record["rows"]:
    assert len(row["final_per_seed"]) == 2 and len(row["tuning"]["grid"]) == len(tuning.LR_MULTIPLIERS)
    assert row["curves"]["eval_steps"][-1] == 30
  adamw, refined = record["rows"][0], record["rows"][1]
  assert adamw["log_adamw_over_metric"] == 0.0
  # AdamW tuned the program's way: its grid point, then the multipliers on top.
  assert {k: refined["hyperparameters"][k] for k in ("lr", "wd")} == adamw["hyperparameters"]
  assert refined["hyperparameters"]["lr_multiplier"] in tuning.LR_MULTIPLIERS
  assert adamw["steps_to_adamw_final"] is not None
  # The program row is tuned over the multiplier grid: its best point is the grid's minimum.
  found = record["rows"][3]
  metrics = [p["metric"] for p in found["tuning"]["grid"] if isinstance(p["metric"], float)]
  assert found["tuning"]["best_metric"] == min(metrics)
  assert open(stem + ".png", "rb").read()[:8] == b"\x89PNG\r\n\x1a\n"
  table = open(stem + ".md").read()
  assert "| found | lr_multiplier=" in table and table in capsys.readouterr().out


def test_replay_out_folder_and_baseline_named_program(tmp_path):
  program_path = tmp_path / "lion.py"
  program_path.write_text(dsl.library.text("lion"))
  out = tmp_path / "out"
  assert replay.main([str(program_path), "--task", "quadratic", "--seeds", "1", "--steps", "10",
                      "--quiet", "--out", str(out)]) == 0
  record = json.loads((out / "lion.quadratic.replay.json").read_text())
  assert [r["optimizer"] for r in record["rows"]] == ["adamw", "adamw_refined", "lion",
                                                       "lion (program)"]


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "no such program file"),
    (["bad.py"], "bad.py:2:"),
    (["good.py", "--task", "nope"], "unknown task 'nope'"),
    (["good.py", "--seeds", "0"], "--seeds"),
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
          "steps_to_adamw_final": None, "tuning": {"grid": [{}, {}]}}


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
            "rows": [_row("adamw", [1.0, 1.0]), _row("padded", [float("nan"), 2.0])],
            "seconds": 0.0}

  monkeypatch.setattr(replay, "replay", fake_replay)
  monkeypatch.setattr(replay, "write", lambda record, paths: None)
  assert replay.main([str(program_path), "--task", "quadratic", "--quiet"]) == 0
  assert replayed == [dsl.prune(dsl.parse_file(program_path))]
  assert len(replayed[0].statements) == len(lion.statements)
  out, err = capsys.readouterr()
  assert err == (f"{program_path}: 2000 of {2000 + len(lion.statements)} statements are dead (no "
                 "update depends on them); replaying the program without them\n")
  assert "| padded | lr=0.001 | diverged on 1 of 2 seeds | - | - |" in out
  assert "nan" not in out
