"""search.winners: funnel -> simplify (with ablation) -> replay -> verdict, resumable, one line
errors."""

import json

import pytest

import dsl
from meta_validation import funnel as funnel_lib
from meta_validation import replay as replay_lib
from search import winners
from simplify import simplifier
from tests.meta_validation import helpers

TASKS = (("10x", helpers.TASK_10X), ("100x", helpers.TASK_100X))
SETTINGS = winners.Settings(top_k=2, seeds=1, holdout_seeds=0, budget=4, tasks=TASKS,
                            ablation_task=helpers.TASK_10X, ablation_seeds=1, replay_seeds=2)
QUIET = lambda _: None  # noqa: E731


def _counting(monkeypatch, module, name):
  calls = []
  real = getattr(module, name)

  def counted(*args, **kwargs):
    calls.append(args)
    return real(*args, **kwargs)

  monkeypatch.setattr(module, name, counted)
  return calls


@pytest.mark.slow
def test_end_to_end_writes_every_output_and_a_second_call_reuses_them(tmp_path, monkeypatch):
  helpers.make_run(tmp_path)
  funnels = _counting(monkeypatch, funnel_lib, "funnel")
  replays = _counting(monkeypatch, replay_lib, "replay")
  simplifies = _counting(monkeypatch, simplifier, "simplify")
  summary = winners.winners(tmp_path, SETTINGS, log=QUIET)
  assert (len(funnels), len(replays)) == (1, 1)
  assert len(simplifies) == len(summary["chosen"]) >= 1
  folder = tmp_path / "winners"
  for name in ("winners.md", "winners.json", "replay.json", "replay.md", "replay.png"):
    assert (folder / name).is_file(), name
  for chosen in summary["chosen"]:
    for suffix in (".py", "_simplified.py", "_simplified.py.report.txt", ".simplification.json"):
      assert (folder / (chosen["name"] + suffix)).is_file()
    dsl.parse_file(folder / (chosen["name"] + "_simplified.py"))  # a valid program file
    assert chosen["statements_after"] <= chosen["statements_before"]
    simplification = json.loads((folder / (chosen["name"] + ".simplification.json")).read_text())
    assert simplification["trials"], "the ablation ran"
  labels = {v["program"] for v in summary["verdicts"]}
  assert {c["name"].replace("rank_", "rank").replace("_id_", "_id") for c in summary["chosen"]} <= labels
  for verdict in summary["verdicts"]:
    assert verdict["vs_adamw_outcome"] in {"better", "worse", "tie", "fails"}
  assert summary["finding"].split(" ")[0] in {"nothing", "a", "another"}
  assert "Replay on" in (folder / "winners.md").read_text()
  record = json.loads((tmp_path / "funnel" / "funnel.json").read_text())
  assert (record["pool"], record["holdout_seeds"], record["tune_seed"]) == (10, 0, 0)

  again = winners.winners(tmp_path, SETTINGS, log=QUIET)  # everything current: nothing rerun
  assert (len(funnels), len(replays), len(simplifies)) == (1, 1, len(summary["chosen"]))
  assert again["verdicts"] == json.loads(json.dumps(summary["verdicts"]))
  # Other settings for the funnel: it reruns (and so does what depends on what changed).
  winners.winners(tmp_path, winners.Settings(**{**SETTINGS.__dict__, "budget": 5}), log=QUIET)
  assert (len(funnels), len(replays)) == (2, 2)


def test_a_newer_event_log_makes_the_funnel_stale(tmp_path, monkeypatch):
  helpers.make_run(tmp_path)
  record = {"finished": True, **{k: v for k, v in winners._wanted_funnel(SETTINGS).items()},
            "candidates": [], "stages": {}, "survivors": []}
  (tmp_path / "funnel").mkdir()
  path = tmp_path / "funnel" / "funnel.json"
  path.write_text(json.dumps(record))
  calls = []
  monkeypatch.setattr(funnel_lib, "funnel", lambda *a, **k: calls.append(a) or record)
  import os
  os.utime(path, (1, 1))  # the log is newer than the record
  winners.funnel_record(tmp_path, SETTINGS, QUIET)
  assert len(calls) == 1
  os.utime(tmp_path / "events.jsonl", (0, 0))
  assert winners.funnel_record(tmp_path, SETTINGS, QUIET) == record
  assert len(calls) == 1


def _record(survivors, stages):
  programs = [dsl.library.load(n) for n in ("adamw", "lion", "sgd_momentum")]
  return {"run": "r", "survivors": survivors, "stages": stages,
          "candidates": [{"id": 10 + i, "program": p.to_text()} for i, p in enumerate(programs)]}


def test_survivors_are_chosen_at_their_tuned_point_else_the_one_that_went_furthest():
  lion = dsl.library.load("lion")
  tuned = dsl.hyperparameters.with_hyperparameters(lion, lr=0.003).to_text()
  stage = {"candidates": [1, 2], "programs": [
      {"vs_adamw": 0.02, "tuned_program": tuned, "hyperparameters": {"lr": 0.003}},
      {"vs_adamw": -0.5}]}
  chosen = winners.chosen_programs(_record([1], {"10x": stage, "100x": stage}))
  assert [(c.id, c.survived, c.stage) for c in chosen] == [(11, True, "100x")]
  assert chosen[0].program.to_text() == tuned
  dropped = {"candidates": [0, 2], "programs": [{"vs_adamw": None}, {"vs_adamw": -0.1}]}
  chosen = winners.chosen_programs(_record([], {"holdout": stage, "10x": dropped}))
  assert [(c.id, c.survived, c.stage, c.vs_adamw) for c in chosen] == [(12, False, "10x", -0.1)]
  with pytest.raises(ValueError, match="no candidate scored a finite"):
    winners.chosen_programs(_record([], {"10x": {"candidates": [0], "programs": [
        {"vs_adamw": "-inf"}]}}))


def test_verdicts_are_paired_by_seed_and_lion_class_is_sign_and_one_state():
  adamw = {"optimizer": "adamw", "final_per_seed": [1.0, 2.0, 3.0], "final_mean": 2.0,
           "final_std": 0.8, "hyperparameters": {}}
  lion = {**adamw, "optimizer": "lion"}
  better = {**adamw, "optimizer": "p", "final_per_seed": [0.9, 1.8, 2.7]}
  noisy = {**adamw, "optimizer": "q", "final_per_seed": [0.5, 2.5, 3.0]}
  record = {"reference": "adamw", "rows": [adamw, lion, better, noisy]}
  rows = winners.verdicts(record, {"p": dsl.library.load("lion"), "q": dsl.library.load("adamw")})
  assert rows[0]["vs_adamw"] == pytest.approx(-__import__("math").log(0.9))
  assert (rows[0]["vs_adamw_outcome"], rows[1]["vs_adamw_outcome"]) == ("better", "tie")
  assert (rows[0]["lion_class"], rows[1]["lion_class"]) == (True, False)
  assert "Lion-class" in winners.finding(rows)
  assert winners.finding(rows[1:]).startswith("nothing")


def test_a_sign_update_on_a_state_nothing_writes_is_not_lion_class():
  # v is read but never written: zeros for ever, so this is a stateless sign update
  signsgd_with_constant = dsl.parse(
      "def train(w, g, v, lr):\n  d = g + v\n  update = sign(d)\n  return update, v\n")
  assert not winners.lion_class(signsgd_with_constant)
  assert winners.lion_class(dsl.library.load("lion"))


def test_carriers_are_the_last_rounds_rejected_changes_most_costly_first():
  trials = [{"round": 1, "description": "remove a", "fitness_before": 0.5,
             "fitness_after": 0.49, "accepted": True},
            {"round": 2, "description": "remove b", "fitness_before": 0.49,
             "fitness_after": 0.1, "accepted": False},
            {"round": 2, "description": "bypass c", "fitness_before": 0.49,
             "fitness_after": "-inf", "accepted": False}]
  found = winners.carriers({"trials": trials})
  assert [c["change"] for c in found] == ["bypass c", "remove b"]
  assert found[1]["cost"] == pytest.approx(0.39)
  assert found[0]["cost"] == float("inf")  # the program fails without c


@pytest.mark.parametrize("argv, expected", [
    (["{run}", "--top-k", "0"], "--top-k: expected a positive integer, got 0"),
    (["{run}", "--tolerance", "-1"], "--tolerance: expected a non-negative number"),
    (["{run}/missing"], "no such run folder"),
    (["{run}", "--task-10x", "nope_10x", "--task-100x", helpers.TASK_100X], "--task-10x:"),
    (["{run}", "--task-10x", helpers.TASK_10X, "--task-100x", helpers.TASK_100X,
      "--ablation-task", "nope"], "--ablation-task:"),
    (["{run}", "--bogus"], "unrecognized arguments"),
])
def test_cli_errors_are_one_line_with_exit_status_2(tmp_path, capsys, argv, expected):
  helpers.make_run(tmp_path)
  with pytest.raises(SystemExit) if "--bogus" in argv else _no_raise() as exit_info:
    code = winners.main([a.format(run=tmp_path) for a in argv])
  if exit_info is not None and hasattr(exit_info, "value"):
    code = exit_info.value.code
  err = capsys.readouterr().err
  assert code == 2
  assert expected in err and err.count("\n") == 1 and "Traceback" not in err


def test_a_run_folder_without_an_event_log_exits_2(tmp_path, capsys):
  (tmp_path / "config.yaml").write_text("name: test\ntask:\n  name: quadratic\n")
  code = winners.main([str(tmp_path), "--task-10x", helpers.TASK_10X, "--task-100x",
                       helpers.TASK_100X, "--holdout-seeds", "0"])
  err = capsys.readouterr().err
  assert code == 2 and "events.jsonl" in err and err.count("\n") == 1


class _no_raise:
  def __enter__(self):
    return None

  def __exit__(self, *exc):
    return False
