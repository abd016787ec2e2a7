"""Tests of funnel selection on a fake run folder with tiny toy stages."""

import csv
import fcntl
import json
import os

import pytest

import dsl
import proxy_tasks
from dsl import hyperparameters
from meta_validation import funnel
from tests.meta_validation import helpers

TASKS = {"10x": helpers.TASK_10X, "100x": helpers.TASK_100X}
BUDGET = 16  # tuning runs per optimizer: enough for the toy stages, quick


def test_read_candidates_unique_best_first(tmp_path):
  programs = helpers.make_run(tmp_path)
  candidates = funnel.read_candidates(tmp_path, top_k=10)
  assert [c.fitness for c in candidates] == [0.9, 0.5, 0.0, -1.0]  # lion once, at its best
  assert candidates[1].program == programs["lion"]
  assert len(funnel.read_candidates(tmp_path, top_k=2)) == 2


def _count_tuning(monkeypatch) -> list[str]:
  """The tasks ``scoring.tune`` tunes the baselines on, in order."""
  tuned = []
  tune = funnel.scoring.tune

  def counting(task_name, spaces, *args, **kwargs):
    if "adamw" in spaces:
      tuned.append(task_name)
    return tune(task_name, spaces, *args, **kwargs)

  monkeypatch.setattr(funnel.scoring, "tune", counting)
  return tuned


def test_funnel_promotes_only_programs_that_beat_tuned_adamw(tmp_path, monkeypatch):
  helpers.make_run(tmp_path)
  tuned = _count_tuning(monkeypatch)
  record = funnel.funnel(tmp_path, top_k=4, seeds=2, tasks=TASKS, log=lambda _: None,
                         holdout_seeds=0, budget=BUDGET)
  assert tuned == [helpers.TASK_10X, helpers.TASK_100X]  # once per stage, not per program
  ten = record["stages"]["10x"]
  adamw = min(ten["baselines"][name]["mean"] for name in ("adamw", "adamw_bc"))
  assert ten["baselines"][ten["reference"]]["mean"] == adamw  # the better AdamW is the bar
  for scored in [*ten["baselines"].values(), *ten["programs"]]:  # every one tuned alike
    assert scored["runs"] >= BUDGET and "lr" in scored["hyperparameters"]
  promoted = [i for i, p in zip(ten["candidates"], ten["programs"]) if p["mean"] < adamw]
  assert [i for i, p in zip(ten["candidates"], ten["programs"]) if p["beats_adamw"]] == promoted
  assert promoted, "tuned SGD with momentum beats tuned AdamW on the noisy quadratic"
  hundred = record["stages"]["100x"]
  assert hundred["candidates"] == promoted
  adamw100 = hundred["baselines"][hundred["reference"]]["mean"]
  survivors = [i for i, p in zip(promoted, hundred["programs"]) if p["mean"] < adamw100]
  assert record["survivors"] == survivors
  folder = tmp_path / "funnel"
  files = sorted(p.name for p in (folder / "survivors").iterdir())
  assert len(files) == len(survivors)
  for name, index in zip(files, survivors):
    text = (folder / "survivors" / name).read_text()
    # As it ran at 100x: at the point tuned there.
    scored = hundred["programs"][promoted.index(index)]
    assert dsl.parse(text) == dsl.parse(scored["tuned_program"])
    assert dsl.structure_hash(dsl.parse(text)) != "" and "tuned on" in text
  rows = list(csv.DictReader((folder / "funnel.csv").open()))
  assert [r["program"] for r in rows][:3] == ["adamw", "adamw_bc", "lion"]
  assert len(rows) == 3 + 4
  assert json.loads((folder / "funnel.json").read_text())["survivors"] == survivors
  assert "| rank 1 |" in (folder / "funnel.md").read_text()


def test_baselines_are_tuned_once_per_task_and_reported_with_their_spread(tmp_path,
                                                                          monkeypatch):
  helpers.make_run(tmp_path)
  tuned = _count_tuning(monkeypatch)
  built = []
  evaluator = funnel.scoring.proxy_tasks.Evaluator
  monkeypatch.setattr(funnel.scoring.proxy_tasks, "Evaluator",
                      lambda task, **kw: built.append(task.config.seeds) or evaluator(task, **kw))
  same = {"10x": helpers.TASK_10X, "100x": helpers.TASK_10X}  # one task for both stages
  record = funnel.funnel(tmp_path, top_k=4, seeds=2, tasks=same, log=lambda _: None,
                         holdout_seeds=0, budget=BUDGET)
  assert "100x" in record["stages"], "SGD with momentum is promoted (see the test above)"
  assert tuned == [helpers.TASK_10X]  # not per stage, not per program
  assert sorted(built) == [(0,), (1,)]  # one compiled evaluator per seed (tuning seed: 0)
  ten, hundred = record["stages"]["10x"], record["stages"]["100x"]
  assert all("hyperparameters" in p for p in ten["programs"] + hundred["programs"])
  assert not ten["baselines_cached"] and hundred["baselines_cached"]
  assert hundred["baselines"] == ten["baselines"]
  # A promoted program scores the same on the same task and seeds at both stages.
  first = ten["candidates"].index(hundred["candidates"][0])
  assert hundred["programs"][0]["metrics"] == ten["programs"][first]["metrics"]
  for name in ("adamw", "adamw_bc", "lion"):
    metrics = ten["baselines"][name]["metrics"]
    assert len(metrics) == 2 and ten["baselines"][name]["std"] == pytest.approx(
        abs(metrics[0] - metrics[1]) / 2)
  rows = {row["program"]: row for row in funnel.table_rows(record)}
  assert " ± " in rows["adamw"]["10x_metric"] and " ± " in rows["lion"]["100x_metric"]


def test_stage_tasks_from_the_proxy_a_family_or_by_name(tmp_path, capsys):
  helpers.make_run(tmp_path)
  assert funnel.stage_tasks(tmp_path) == {"10x": "quadratic_10x", "100x": "quadratic_100x"}
  assert funnel.stage_tasks(tmp_path, "lm_sklearn_text") == {
      "10x": "lm_sklearn_text_10x", "100x": "lm_sklearn_text_100x"}
  assert funnel.stage_tasks(tmp_path, "lm_sklearn_text", task_100x="mlp_digits_100x") == {
      "10x": "lm_sklearn_text_10x", "100x": "mlp_digits_100x"}
  # Both named: no config needed.
  assert funnel.stage_tasks(tmp_path / "nope", task_10x="a", task_100x="b") == {
      "10x": "a", "100x": "b"}
  assert funnel.main([str(tmp_path), "--family", "nope"]) == 2
  assert "--family: unknown family 'nope'" in capsys.readouterr().err


def test_cli_errors_exit_2(tmp_path, capsys):
  assert funnel.main([str(tmp_path / "nope")]) == 2
  assert "config.yaml: no such file" in capsys.readouterr().err
  helpers.make_run(tmp_path)
  assert funnel.main([str(tmp_path), "--task-10x", "nope"]) == 2
  assert "10x task: unknown proxy task 'nope'" in capsys.readouterr().err
  assert funnel.main([str(tmp_path), "--top-k", "0"]) == 2
  assert not (tmp_path / "funnel").exists()


def test_default_tasks_come_from_the_run_config(tmp_path):
  helpers.make_run(tmp_path)
  assert funnel.proxy_of(tmp_path)[0] == "quadratic"
  with pytest.raises(KeyError, match="quadratic_10x"):  # no 10x of the toy family is built in
    funnel.funnel(tmp_path, top_k=1, seeds=1, log=lambda _: None)


@pytest.mark.parametrize("top_k", [1, 3, 8, 40])
def test_streamed_candidates_are_the_best_of_the_whole_segmented_log(tmp_path, monkeypatch,
                                                                     top_k):
  """Keys that leave the top and come back, equal fitnesses (cache hits), failed runs: the
  streamed top-K is the top-K of every key at its first best event."""
  import numpy as np  # pylint: disable=import-outside-toplevel
  from runlog import folder as run_folder  # pylint: disable=import-outside-toplevel

  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 50)
  folder = run_folder.RunFolder(tmp_path)
  folder.create("name: test\ntask:\n  name: quadratic\n", "def train(w, g, lr):\n  return g\n")
  folder.open_logs()
  rng = np.random.default_rng(top_k)
  texts = [dsl.library.load(name).to_text() for name in ("adamw", "lion", "sgd_momentum")]
  events = []
  for seq, program_id in enumerate(rng.permutation(400)):
    key = f"key-{int(rng.integers(60))}"
    fitness = [None, *np.round(np.linspace(-1, 1, 9), 2)][int(rng.integers(10))]
    status = "cached" if rng.random() < 0.5 else ("ok" if fitness is not None else "nan")
    events.append({"seq": seq, "id": int(program_id), "key": key, "fitness": fitness,
                   "status": status, "program": texts[int(program_id) % 3]})
    folder.append_event(events[-1])
  folder.close()
  assert len(list(folder.segments_path.glob("*.jsonl.gz"))) == 8
  best = {}
  for event in events:
    if event["fitness"] is not None and (event["key"] not in best
                                         or event["fitness"] > best[event["key"]][0]):
      best[event["key"]] = (event["fitness"], event["id"])
  expected = sorted(((f, i, key) for key, (f, i) in best.items()),
                    key=lambda c: (-c[0], c[1]))[:top_k]
  candidates = funnel.read_candidates(tmp_path, top_k)
  assert [(c.fitness, c.id, c.key) for c in candidates] == expected
  assert all(c.program.to_text() == texts[c.id % 3] for c in candidates)


def _adamw(lr: float, extra_step: bool = False, **constants) -> dsl.Program:
  program = hyperparameters.with_hyperparameters(dsl.library.load("adamw"), lr=lr, **constants)
  if not extra_step:
    return program
  # The same learning rate in two multiplications: the same optimizer, another structure.
  text = program.to_text().replace(f"lr = lr * {lr!r}", f"lr = lr * 0.5\n  lr = lr * {lr * 2!r}")
  assert text != program.to_text()
  return dsl.parse(text)


def _narrow_baselines(monkeypatch, axes=("lr", "wd")):
  """Baselines tuned the paper's way (learning rate x weight decay only), so that AdamW with
  small betas beats them for sure: the funnel's logic, not an optimizer, is under test."""
  library_space = funnel.tuning.library_space
  monkeypatch.setattr(funnel.tuning, "library_space",
                      lambda name, names=None, axes_=None: library_space(name, list(axes)))


def test_held_out_seeds_drop_the_lucky_and_one_program_per_structure_goes_on(tmp_path,
                                                                             monkeypatch):
  _narrow_baselines(monkeypatch)
  small_betas = {"wd": 0.0, "beta1": 0.44, "beta2": 0.97}
  programs = {"lucky_adamw": _adamw(1e-3, wd=0.0), "lr_008": _adamw(0.08, **small_betas),
              "lr_01": _adamw(0.1, **small_betas),
              "lr_01_two_steps": _adamw(0.1, extra_step=True, **small_betas)}
  assert dsl.structure_hash(programs["lr_008"]) == dsl.structure_hash(programs["lr_01"])
  assert dsl.structure_hash(programs["lr_01"]) != dsl.structure_hash(programs["lr_01_two_steps"])
  helpers.make_run(tmp_path, programs, [("lucky_adamw", 2.0, "ok"), ("lr_008", 0.6, "ok"),
                                        ("lr_01", 0.5, "ok"), ("lr_01_two_steps", 0.4, "ok")])
  record = funnel.funnel(tmp_path, top_k=2, seeds=1, tasks=TASKS, log=lambda _: None,
                         holdout_seeds=2, budget=BUDGET)
  held_out = record["stages"]["holdout"]
  assert record["tasks"]["holdout"] == "quadratic" and held_out["seeds"] == [1000, 1001]
  names = [c["id"] for c in record["candidates"]]  # ids are the events' order above
  assert names == [0, 1, 2, 3]  # by proxy fitness
  beats = [p["beats_adamw"] for p in held_out["programs"]]
  assert beats == [False, True, True, True]
  means = [p["mean"] for p in held_out["programs"]]
  better, worse = sorted((1, 2), key=lambda i: means[i])  # one structure, two learning rates
  assert sorted(record["selected"]) == sorted([better, 3])
  assert record["same_structure_as"] == {worse: better}
  assert record["stages"]["10x"]["candidates"] == record["selected"]
  status = {row["id"]: row["status"] for row in funnel.table_rows(record) if row["id"] != ""}
  assert status[0] == "dropped on held-out seeds"
  assert status[worse] == f"same structure as rank {better + 1}"
  text = (tmp_path / "funnel" / "funnel.md").read_text()
  assert "seeds 1000..1001, which the search never used" in text
  assert json.loads((tmp_path / "funnel" / "funnel.json").read_text())["selected"] == record[
      "selected"]


def test_pool_and_holdout_flags_are_checked(tmp_path, capsys):
  helpers.make_run(tmp_path)
  assert funnel.main([str(tmp_path), "--holdout-seeds", "-1"]) == 2
  assert "--holdout-seeds: expected a non-negative integer, got -1" in capsys.readouterr().err
  assert funnel.main([str(tmp_path), "--pool", "0"]) == 2
  assert "--pool: expected a positive integer, got 0" in capsys.readouterr().err


def test_proxy_overrides_come_from_the_config_as_task_fields(tmp_path):
  (tmp_path / "config.yaml").write_text(
      "task:\n  name: mlp_digits\n  overrides: {seeds: [0, 1, 2], hidden: [16], steps: 50}\n")
  name, overrides = funnel.proxy_of(tmp_path)
  assert (name, overrides) == ("mlp_digits", {"seeds": [0, 1, 2], "hidden": [16], "steps": 50})
  config = proxy_tasks.resolve(name, **overrides).config  # YAML lists become tuples there
  assert (config.seeds, config.hidden, config.steps) == ((0, 1, 2), (16,), 50)
  (tmp_path / "config.yaml").write_text("task:\n  name: mlp_digits\n  overrides: [1]\n")
  with pytest.raises(ValueError, match="'task.overrides': expected a mapping"):
    funnel.proxy_of(tmp_path)


def test_candidates_are_tuned_like_the_baselines_unless_scored_as_found():
  slow = _adamw(0.002, wd=0.0)  # a step tuned for another task: far too small for this one
  evaluators = {}  # compiled once for both calls
  as_found = funnel.run_stage(helpers.TASK_10X, [slow], (0, 1), evaluators=evaluators,
                              budget=BUDGET)
  tuned = funnel.run_stage(helpers.TASK_10X, [slow], (0, 1), evaluators=evaluators,
                           tune_programs=True, budget=BUDGET)
  assert "hyperparameters" not in as_found["programs"][0]
  program = tuned["programs"][0]
  assert program["hyperparameters"]["lr"] > 3 * 0.002  # tuning found the larger step
  assert program["mean"] < 0.5 * as_found["programs"][0]["mean"]
  assert tuned["baselines"]["adamw"]["mean"] == as_found["baselines"]["adamw"]["mean"]
  assert not as_found["programs"][0]["beats_adamw"]
  # The candidate is AdamW: tuned by the same procedure and budget it is tuned AdamW itself.
  assert program["hyperparameters"] == tuned["baselines"]["adamw"]["hyperparameters"]
  assert program["runs"] == tuned["baselines"]["adamw"]["runs"]
  assert tuned["reference"] == as_found["reference"] in ("adamw", "adamw_bc")


def test_held_out_seeds_are_above_every_seed_the_search_used(tmp_path):
  programs = {"adamw": dsl.library.load("adamw")}
  helpers.make_run(tmp_path, programs, [("adamw", 0.0, "ok")])
  (tmp_path / "config.yaml").write_text(
      "task:\n  name: quadratic\n  overrides: {seeds: [3, 1200], steps: 20}\n")
  record = funnel.funnel(tmp_path, top_k=1, seeds=1, tasks=TASKS, log=lambda _: None,
                         holdout_seeds=2, budget=BUDGET)
  held_out = record["stages"]["holdout"]
  assert held_out["seeds"] == [1201, 1202] and held_out["overrides"] == {"steps": 20}


def test_a_crash_in_the_last_stage_keeps_the_stages_before_it(tmp_path, monkeypatch):
  helpers.make_run(tmp_path)
  run_stage = funnel.run_stage

  def crashing(task_name, *args, **kwargs):
    if task_name == helpers.TASK_100X:
      raise MemoryError("killed at 100x")
    return run_stage(task_name, *args, **kwargs)

  monkeypatch.setattr(funnel, "run_stage", crashing)
  with pytest.raises(MemoryError):
    funnel.funnel(tmp_path, top_k=4, seeds=1, tasks=TASKS, log=lambda _: None, holdout_seeds=0,
                  budget=BUDGET)
  saved = json.loads((tmp_path / "funnel" / "funnel.json").read_text())
  assert saved["finished"] is False and list(saved["stages"]) == ["10x"]
  assert "**Unfinished**" in (tmp_path / "funnel" / "funnel.md").read_text()


def test_a_funnel_on_a_live_search_reads_it_and_says_the_log_was_partial(tmp_path,
                                                                          monkeypatch):
  helpers.make_run(tmp_path)
  # The search's lock, as another process holds it (a second descriptor conflicts as one).
  lock = os.open(tmp_path / "owner.lock", os.O_RDWR | os.O_CREAT)
  os.write(lock, b"pid 4242 on host elsewhere\n")
  fcntl.flock(lock, fcntl.LOCK_EX)
  read = []

  def no_stages(task_name, programs, *args, **kwargs):  # the reading is what is tested here
    read.extend(programs)
    raise MemoryError("no stage")

  monkeypatch.setattr(funnel, "run_stage", no_stages)
  logged = []
  try:
    with pytest.raises(MemoryError):
      funnel.funnel(tmp_path, top_k=4, seeds=1, tasks=TASKS, log=logged.append,
                    holdout_seeds=0)
  finally:
    os.close(lock)
  assert logged[0] == (f"the search in {tmp_path} is still running (pid 4242 on host "
                       "elsewhere): its log is read as it is now")
  assert read  # it was read all the same
  record = {"run": str(tmp_path), "top_k": 4, "seeds": 1, "tasks": TASKS, "stages": {},
            "candidates": [], "partial_log": "pid 4242 on host elsewhere"}
  assert ("**Partial log**: the search was still running (pid 4242 on host elsewhere) when "
          "its event log was read" in funnel.markdown(record))
  assert "Partial log" not in funnel.markdown({**record, "partial_log": None})


def test_a_suite_search_is_held_out_on_every_task_by_the_mean_log_ratio(tmp_path, monkeypatch):
  _narrow_baselines(monkeypatch)
  small_betas = {"wd": 0.0, "beta1": 0.44, "beta2": 0.97}
  programs = {"slow_adamw": _adamw(1e-4, wd=0.0), "lr_01": _adamw(0.1, **small_betas)}
  helpers.make_run(tmp_path, programs, [("slow_adamw", 2.0, "ok"), ("lr_01", 0.5, "ok")])
  (tmp_path / "config.yaml").write_text(
      "task:\n  name: quadratic\n  overrides: {steps: 30}\n"
      f"  suite:\n    {helpers.TASK_10X}: {{seeds: [0, 1500]}}\n")
  record = funnel.funnel(tmp_path, top_k=2, seeds=1, tasks=TASKS, log=lambda _: None,
                         holdout_seeds=2, budget=BUDGET)
  held_out = record["stages"]["holdout"]
  assert held_out["seeds"] == [1501, 1502]  # above the suite member's seeds too
  member = held_out["suite"][helpers.TASK_10X]
  assert member["seeds"] == [1501, 1502]
  for index, scored in enumerate(held_out["programs"]):
    per_task = scored["task_vs_adamw"]
    assert set(per_task) == {"quadratic", helpers.TASK_10X}
    assert per_task[helpers.TASK_10X] == member["programs"][index]["vs_adamw"]
    assert scored["vs_adamw"] == pytest.approx(sum(per_task.values()) / 2)
    assert scored["beats_adamw"] == (scored["vs_adamw"] > 0)
  beats = [p["beats_adamw"] for p in held_out["programs"]]
  assert beats == [False, True]  # a step 1000x too small loses on both tasks
  assert record["selected"] == [1]
  text = (tmp_path / "funnel" / "funnel.md").read_text()
  assert f"and the suite's `{helpers.TASK_10X}`" in text
  row = [r for r in funnel.table_rows(record) if r["id"] == 1][0]
  assert row["holdout_vs_adamw"] == f"{held_out['programs'][1]['vs_adamw']:+.4f}"


def test_a_suite_that_is_not_a_mapping_is_one_located_error(tmp_path):
  (tmp_path / "config.yaml").write_text("task:\n  name: quadratic\n  suite: [a, b]\n")
  with pytest.raises(ValueError, match="'task.suite': expected a mapping"):
    funnel.suite_of(tmp_path)
