"""The meta-overfitting monitor and the end-of-search funnel, wired into the search loop
(fake evaluators on the local pool; the funnel on tiny toy tasks)."""

import csv
import math

import pytest

from meta_validation import monitor
from search import config as config_lib
from runlog import folder as run_folder
from search import driver, workers
from tests.search import fakes
from tests.search.helpers import run_search, small_config, trajectory

META = ["meta_validation.task=fake_10x", "meta_validation.evaluator=tests.search.fakes:make"]


def _rows(folder):
  path = folder.path / monitor.CSV_NAME
  return list(csv.DictReader(path.open())) if path.exists() else []


def test_monitor_curve_in_the_run_folder_every_n_scored(tmp_path):
  config = small_config(tmp_path, max_programs=300,
                        overrides=META + ["meta_validation.every=40"])
  search, folder, evaluator = run_search(config)
  rows = _rows(folder)
  assert search.state.scored >= 80  # two points at least
  assert [int(r["scored"]) for r in rows] == list(range(40, search.state.scored + 1, 40))
  # The meta task scored the best program of the time (the fake gives it its proxy fitness).
  for row in rows:
    assert float(row["meta_fitness"]) == pytest.approx(float(row["proxy_fitness"]), abs=1e-5)
  assert (folder.path / monitor.PLOT_NAME).read_bytes()[:4] == b"\x89PNG"
  # Monitor work is no search program: not in the events, not scored by the proxy evaluator.
  events = folder.events()
  assert len(events) == 301
  assert len(evaluator.scored) == len([e for e in events if e["status"] != "cached"])
  assert search.meta_in_flight == 0


def test_monitor_work_does_not_change_the_search(tmp_path):
  common = ["workers.batch_size=2"]
  plain = run_search(small_config(tmp_path / "a", repeats=2, restart_after=40,
                                  overrides=common))
  monitored = run_search(small_config(tmp_path / "b", repeats=2, restart_after=40,
                                      overrides=common + META + ["meta_validation.every=7"]))
  assert _rows(monitored[1]) and not _rows(plain[1])
  assert trajectory(monitored[1].events()) == trajectory(plain[1].events())
  assert monitored[2].scored == plain[2].scored  # the proxy evaluator saw the same programs
  assert len(monitored[0].cache) == len(plain[0].cache)  # no cache entry of its own


def test_resume_keeps_earlier_points_and_goes_on(tmp_path):
  overrides = META + ["meta_validation.every=20"]
  search, folder, _ = run_search(small_config(tmp_path, max_programs=120, overrides=overrides))
  before = _rows(folder)
  assert len(before) == search.state.scored // 20 >= 2
  # A longer budget on the same folder: a resumed search (the monitor reloads its CSV).
  search, _, _ = run_search(small_config(tmp_path, max_programs=300, overrides=overrides))
  after = _rows(folder)
  assert after[:len(before)] == before
  assert [int(r["scored"]) for r in after] == list(range(20, search.state.scored + 1, 20))


def test_a_failing_meta_task_is_recorded_not_fatal(tmp_path):
  config = small_config(tmp_path, max_programs=100, overrides=[
      "meta_validation.task=nope_10x", "meta_validation.evaluator=tests.search.fakes:broken",
      "meta_validation.every=25"])
  messages = []
  folder = run_folder.RunFolder(tmp_path / "test")
  search = driver.Search(config, folder, workers.LocalPool(fakes.FakeEvaluator()),
                         log=messages.append)
  search.run()
  rows = _rows(folder)
  assert len(folder.events()) == 101
  assert rows and all(r["meta_fitness"] == "" for r in rows)  # failed: no value
  assert math.isnan(monitor.Monitor(folder.path, "nope_10x", 25).rows[0]["meta_fitness"])
  assert any("meta-validation" in m and "failed" in m and "nope_10x" in m for m in messages)


def test_local_pool_builds_each_other_task_once():
  import dsl
  from search.evolution import Child
  built = []

  def factory(task):
    built.append(task)
    return fakes.FakeEvaluator(task.name, delay_s=dict(task.overrides)["delay_s"])

  pool = workers.LocalPool(fakes.FakeEvaluator(), factory=factory)
  task = workers.Task.of("fake_10x", {"delay_s": 0.0, "unused": [1, 2]})  # a list: no hash
  program = dsl.library.load("lion")
  for i in range(3):
    pool.submit([Child(i, 0, 0, "x", program, str(i))], task if i else None)
  results = [pool.wait()[0].results[0] for _ in range(3)]
  assert built == [task] and pool.evaluator.scored == [program.to_text()]
  assert all(r["fitness"] == fakes.toy_fitness(program) for r in results)


def test_config_section_is_validated_like_the_rest():
  with pytest.raises(config_lib.ConfigError,
                     match=r"unknown key 'meta_validation.evry'; allowed: task, every"):
    small_config("runs", overrides=["meta_validation.evry=3"])
  with pytest.raises(config_lib.ConfigError, match="'meta_validation.every' must be an integer"):
    small_config("runs", overrides=["meta_validation.every=often"])
  with pytest.raises(config_lib.ConfigError, match="'meta_validation.every' must be at least 1"):
    small_config("runs", overrides=["meta_validation.task=mlp_digits_10x"])
  with pytest.raises(config_lib.ConfigError, match="'meta_validation.task' must name a task"):
    small_config("runs", overrides=["meta_validation.every=5"])
  off = small_config("runs")
  assert not off.meta_validation.monitoring and not off.meta_validation.funnel_at_end
  assert config_lib.parse(config_lib.to_yaml(off)) == off


def test_funnel_at_end_writes_funnel_and_not_after_an_interrupt(tmp_path):
  from tests.meta_validation import helpers as meta_helpers  # registers the tiny toy stages
  overrides = ["task.name=quadratic", "meta_validation.funnel_at_end=true",
               "meta_validation.funnel_top_k=2", "meta_validation.funnel_seeds=1",
               f"meta_validation.funnel_task_10x={meta_helpers.TASK_10X}",
               f"meta_validation.funnel_task_100x={meta_helpers.TASK_100X}"]

  class Interrupting(workers.LocalPool):
    def wait(self, timeout=None):
      if len(self.evaluator.scored) >= 10:
        interrupted.interrupt()
      return super().wait(timeout)

  config = small_config(tmp_path, max_programs=40, overrides=overrides)
  folder = run_folder.RunFolder(tmp_path / "test")
  interrupted = driver.Search(config, folder, Interrupting(fakes.FakeEvaluator()))
  interrupted.run()
  assert interrupted.interrupted and not (folder.path / "funnel").exists()
  assert interrupted.funnel_table is None

  search, folder, _ = run_search(config)  # resumes and spends the budget
  assert search.funnel_table == folder.path / "funnel" / "funnel.md"
  assert search.funnel_table.exists() and (folder.path / "funnel" / "funnel.json").exists()
  assert "| rank 1 |" in search.funnel_table.read_text()


def test_cli_rejects_an_unknown_meta_task_before_starting(tmp_path, capsys):
  from search import run
  base = small_config(tmp_path, name="cli")
  path = tmp_path / "cli.yaml"
  path.write_text(config_lib.to_yaml(base))
  assert run.main([str(path), "--quiet", "--set", "meta_validation.task=mlp_digit_10x",
                   "--set", "meta_validation.every=5"]) == 2
  assert "meta_validation.task: unknown proxy task 'mlp_digit_10x'" in capsys.readouterr().err
  assert run.main([str(path), "--quiet", "--set", "meta_validation.funnel_at_end=true"]) == 2
  assert "funnel_task_10x: unknown proxy task 'fake_10x'" in capsys.readouterr().err
  assert not (tmp_path / "cli").exists()
