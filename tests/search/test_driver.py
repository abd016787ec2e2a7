"""The search loop in-process (fake evaluator, no Ray): cache, determinism, crash and resume,
dead workers, budgets."""

import dataclasses
import hashlib
import json
import math

import pytest

import dsl
from proxy_tasks import tuning
from runlog import folder as run_folder
from search import driver, workers
from tests.search import fakes
from tests.search.helpers import run_search, small_config, trajectory


def test_search_writes_a_readable_run_folder(tmp_path):
  config = small_config(tmp_path, max_programs=200)
  search, folder, _ = run_search(config)
  events = folder.events()
  assert len(events) == 201 and [e["seq"] for e in events] == list(range(1, 202))
  assert events[0]["id"] == 0 and events[0]["mutation"] == "initial"
  assert {"id", "parent", "mutation", "key", "fitness", "status", "seconds", "worker"} <= set(
      events[1])
  best = (folder.programs / "best.py").read_text()
  assert "fitness" in best.splitlines()[0] and "def train(" in best
  assert sorted(p.name for p in folder.programs.glob("top_*.py")) == [
      f"top_{i:02d}.py" for i in range(1, 6)]
  assert folder.plot_path.exists() and folder.metrics()
  assert (folder.path / "config.yaml").read_text().startswith("name: test")
  assert search.state.best.fitness == max(dsl.ranked_fitness(e["fitness"]) for e in events)


def test_cache_hits_are_not_trained_again(tmp_path):
  config = small_config(tmp_path, max_programs=400, population_size=10)
  search, folder, evaluator = run_search(config)
  events = folder.events()
  scored_keys = [e["key"] for e in events if e["status"] != "cached"]
  assert len(scored_keys) == len(set(scored_keys)) == len(evaluator.scored)
  cached = [e for e in events if e["status"] == "cached"]
  assert cached, "a small population must meet programs it has already scored"
  first_score = {e["key"]: e["fitness"] for e in events if e["status"] != "cached"}
  assert all(e["fitness"] == first_score[e["key"]] and e["worker"] is None for e in cached)
  assert search.state.cached == len(cached) and search.state.scored == len(scored_keys)


def test_evolution_beats_the_warm_start(tmp_path):
  search, folder, _ = run_search(small_config(tmp_path, max_programs=600))
  assert search.state.best.fitness > search.state.initial.fitness + 0.5


def test_same_seed_same_run_and_another_seed_another(tmp_path):
  a = run_search(small_config(tmp_path / "a", repeats=2, restart_after=40))[1].events()
  b = run_search(small_config(tmp_path / "b", repeats=2, restart_after=40))[1].events()
  c = run_search(small_config(tmp_path / "c", seed=1, repeats=2, restart_after=40))[1].events()
  assert trajectory(a) == trajectory(b)
  assert trajectory(a) != trajectory(c)


class _Crash(Exception):
  pass


class _CrashingPool(workers.LocalPool):
  """Dies (like kill -9: no final checkpoint) after ``batches`` batches."""

  def __init__(self, evaluator, batches):
    super().__init__(evaluator)
    self.left = batches

  def wait(self, timeout=None):
    if self.left == 0:
      raise _Crash()
    self.left -= 1
    return super().wait(timeout)


@pytest.mark.parametrize("crash_after", [1, 37, 90])
def test_resume_after_a_crash_continues_exactly(tmp_path, crash_after):
  reference = run_search(small_config(tmp_path / "ref",
                                      repeats=2, restart_after=50))[1].events()
  config = small_config(tmp_path / "crash", checkpoint_every_s=0.05, repeats=2, restart_after=50)
  evaluator = fakes.FakeEvaluator()
  folder = run_folder.RunFolder(tmp_path / "crash" / "test")
  with pytest.raises(_Crash):
    driver.Search(config, folder, _CrashingPool(evaluator, crash_after)).run()
  # Make the checkpoint older than the log, as after a kill between checkpoints.
  scored_before = list(evaluator.scored)
  search, _, evaluator = run_search(config, fakes.FakeEvaluator())
  events = folder.events()
  assert trajectory(events) == trajectory(reference)
  # Nothing that was logged is trained again.
  logged_before = {e["program"] for e in events if e["status"] != "cached"}
  assert not set(evaluator.scored) & (set(scored_before) & logged_before)
  assert len(scored_before) + len(evaluator.scored) <= len(
      [e for e in events if e["status"] != "cached"]) + 1


def test_replay_of_events_newer_than_the_checkpoint(tmp_path):
  """The checkpoint is old (taken early); every later event is replayed, none re-scored."""
  reference = run_search(small_config(tmp_path / "ref", max_programs=150))[1].events()
  config = small_config(tmp_path / "old", max_programs=150, checkpoint_every_s=1e9)
  folder = run_folder.RunFolder(tmp_path / "old" / "test")
  with pytest.raises(_Crash):
    driver.Search(config, folder, _CrashingPool(fakes.FakeEvaluator(), 40)).run()
  checkpoint = folder.read_checkpoint()
  assert checkpoint["state"]["events"] == 1  # only the warm start is covered
  logged = len(folder.events())
  assert logged > 40
  search, _, evaluator = run_search(config, fakes.FakeEvaluator())
  events = folder.events()
  assert trajectory(events) == trajectory(reference)

  def scored(some):
    return len([e for e in some if e["status"] != "cached"])

  assert len(evaluator.scored) == scored(events) - scored(events[:logged])


class _FlakyPool(workers.LocalPool):
  """Every third batch comes back as a dead worker's."""

  def __init__(self, evaluator):
    super().__init__(evaluator, slots=2)
    self.calls = 0

  def wait(self, timeout=None):
    self.calls += 1
    if self.calls % 3 == 0 and self._queue:
      return [workers.Completed(self._queue.popleft(), None, "local", "died")]
    return super().wait(timeout)


def test_batches_of_dead_workers_are_sent_again(tmp_path):
  config = small_config(tmp_path, max_programs=120, overrides=["workers.batch_size=3"])
  messages = []
  evaluator = fakes.FakeEvaluator()
  folder = run_folder.RunFolder(tmp_path / "test")
  search = driver.Search(config, folder, _FlakyPool(evaluator), log=messages.append)
  search.run()
  events = folder.events()
  assert len(events) == 121 and len({e["id"] for e in events}) == 121
  assert any("died" in m for m in messages)
  assert search.state.pending == {}


def _poisonous(text: str) -> bool:
  """One program in 16, by its text's hash, kills the worker that scores it."""
  return hashlib.sha256(text.encode()).hexdigest()[0] == "0"


class _PoisonPool(workers.LocalPool):
  """A worker dies on every batch that holds a poisonous program."""

  def __init__(self, evaluator):
    super().__init__(evaluator, slots=2)
    self.deaths = 0

  def wait(self, timeout=None):
    if self._queue and any(_poisonous(child.program.to_text()) for child in self._queue[0]):
      self.deaths += 1
      return [workers.Completed(self._queue.popleft(), None, "local", "died")]
    return super().wait(timeout)


def test_a_program_that_kills_its_workers_fails_alone(tmp_path):
  config = small_config(tmp_path, max_programs=300, overrides=["workers.batch_size=4"])
  pool = _PoisonPool(fakes.FakeEvaluator())
  folder = run_folder.RunFolder(tmp_path / "test")
  search = driver.Search(config, folder, pool)
  search.run()
  events = list(folder.events())
  assert len(events) == 301 and len({e["id"] for e in events}) == 301
  poisoned = [e for e in events if _poisonous(e["program"]) and e["status"] != "cached"]
  assert poisoned and all(e["status"] == "error" and "died 2 times" in e["reason"]
                          for e in poisoned)
  # Innocent programs that shared a batch with a poisoned one were scored (alone) all the same.
  assert all(e["status"] in ("ok", "cached") for e in events if not _poisonous(e["program"]))
  assert pool.deaths <= 2 * len(poisoned) + len({e["key"] for e in poisoned})


def test_interrupt_checkpoints_and_resume_finishes(tmp_path):
  config = small_config(tmp_path, max_programs=200, overrides=["workers.batch_size=2"])
  folder = run_folder.RunFolder(tmp_path / "test")

  class Interrupting(workers.LocalPool):
    def wait(self, timeout=None):
      if len(self.evaluator.scored) >= 40:
        search.interrupt()
      return super().wait(timeout)

  search = driver.Search(config, folder, Interrupting(fakes.FakeEvaluator()))
  search.run()
  assert search.interrupted and folder.read_checkpoint()["state"]["generated"] < 200
  search, _, _ = run_search(config)
  events = folder.events()
  assert search.state.generated == 200 and len(events) == 201
  assert len({e["id"] for e in events}) == 201


def test_time_budget_stops_generation(tmp_path):
  config = small_config(tmp_path, max_programs=10**6, overrides=["budget.max_hours=0.0003"])
  search, folder, _ = run_search(config, fakes.FakeEvaluator(delay_s=0.005))
  assert 0 < search.state.generated < 10**6 and search.elapsed < 10
  assert not search.state.pending


class _LearningRateEvaluator(fakes.FakeEvaluator):
  """Fitness peaks at the learning-rate constant 0.01 and weight decay 0.1."""

  def evaluate(self, programs):
    results = super().evaluate(programs)
    out = []
    for program, result in zip(programs, results):
      text = program.to_text()
      fitness = result.fitness + ("lr * 0.01\n" in text) + 0.5 * ("w * 0.1\n" in text)
      out.append(fakes.FakeResult(fitness, -fitness, fitness))
    return out


def test_tune_initial_starts_from_the_tuned_point(tmp_path):
  config = small_config(tmp_path, max_programs=50, overrides=["tune_initial=true"])
  search, folder, evaluator = run_search(config, evaluator=_LearningRateEvaluator())
  initial = folder.events()[0]
  assert "lr = lr * 0.01\n" in initial["program"] and "wd = w * 0.1\n" in initial["program"]
  record = json.loads((folder.programs / "initial_tuning.json").read_text())
  space = tuning.library_space("adamw")
  runs = [space.apply({k: v for k, v in t.items() if k != "metric"}).to_text()
          for t in record["trials"]]
  assert evaluator.scored[:len(runs)] == runs  # proxy_tasks.tuning's runs, in its order
  assert len(evaluator.scored) == len(set(evaluator.scored))  # the winner is not scored again
  assert record["best"]["lr"] == 0.01 and record["best"]["wd"] == 0.1
  assert record["runs"] == len(runs) == tuning.DEFAULT_BUDGET
  # Tuned on exp(-normalized) (search.warm_start.tuning_metric): the fitness the search ranks by.
  assert search.state.initial.fitness == pytest.approx(-math.log(record["best_metric"]))
  # Resumed, the run keeps its tuned warm start and does not tune again.
  again = driver.Search(config, folder, workers.LocalPool(_LearningRateEvaluator()))
  again.run()
  assert folder.events()[0] == initial


def test_resume_across_rotated_log_segments_continues_exactly(tmp_path, monkeypatch):
  """The same run when the event log is cut into many gzipped segments and the crash falls
  among them; the cache is rebuilt from the segments' indexes."""
  reference = run_search(small_config(tmp_path / "ref", repeats=2, restart_after=50))[1].events()
  monkeypatch.setattr(run_folder, "SEGMENT_EVENTS", 17)
  config = small_config(tmp_path / "crash", checkpoint_every_s=0.05, repeats=2, restart_after=50)
  folder = run_folder.RunFolder(tmp_path / "crash" / "test")
  first = fakes.FakeEvaluator()
  with pytest.raises(_Crash):
    driver.Search(config, folder, _CrashingPool(first, 45)).run()
  assert any(folder.segments_path.glob("*.jsonl.gz"))
  _, _, evaluator = run_search(config, fakes.FakeEvaluator())
  events = folder.events()
  assert trajectory(events) == trajectory(reference)
  assert len(list(folder.segments_path.glob("*.jsonl.gz"))) == len(events) // 17
  assert not set(evaluator.scored) & set(first.scored)  # nothing scored before is trained again


class _Opposite(fakes.FakeEvaluator):
  """Scores every program with the opposite of the toy fitness."""

  def evaluate(self, programs):
    return [dataclasses.replace(r, fitness=-r.fitness) for r in super().evaluate(programs)]


def test_random_search_runs_the_same_whatever_the_fitness(tmp_path):
  runs = {}
  for name, evaluator in (("toy", fakes.FakeEvaluator()), ("opposite", _Opposite())):
    config = small_config(tmp_path / name, max_programs=100,
                          overrides=["evolution.strategy=random"])
    search, folder, _ = run_search(config, evaluator)
    runs[name] = folder.events()
    assert search.state.generated == 100 and len(runs[name]) == 101
  assert ([(e["id"], e["parent"], e["program"]) for e in runs["toy"]]
          == [(e["id"], e["parent"], e["program"]) for e in runs["opposite"]])
  assert {e["mutation"].split("@")[0] for e in runs["toy"][1:]} == {"insert", "delete", "modify"}


def test_constant_tuning_runs_keep_the_warm_start_structure(tmp_path):
  config = small_config(tmp_path, max_programs=150, overrides=["evolution.strategy=constants"])
  search, folder, _ = run_search(config)
  events = folder.events()
  assert search.state.generated == 150 and len(events) == 151
  structures = {dsl.structure_hash(dsl.parse(e["program"])) for e in events}
  assert structures == {dsl.structure_hash(dsl.library.load("adamw"))}
  assert all(e["mutation"].startswith("constant@") for e in events[1:])


@pytest.mark.parametrize("batch_size", [1, 4])
def test_a_budget_of_programs_trained_stops_at_exactly_that_many(tmp_path, batch_size):
  config = small_config(tmp_path, max_programs=10**6, population_size=10,
                        overrides=["budget.max_trained=60", f"workers.batch_size={batch_size}"])
  search, folder, evaluator = run_search(config)
  events = folder.events()
  assert search.state.scored == 60 == len([e for e in events if e["status"] != "cached"])
  assert len(evaluator.scored) == 60 and search.state.cached > 0  # cache hits are free
  assert not search.state.pending
