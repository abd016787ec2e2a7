"""Workers: the local pool, result records, and (slow) Ray actors end to end."""

import math
import time

import pytest

from runlog import folder as run_folder
from search import driver, workers
from tests.search import fakes
from tests.search.helpers import small_config


def test_result_record_accepts_objects_and_mappings_and_maps_nan_to_minus_inf():
  record = workers.result_record(fakes.FakeResult(0.5, 1.0, 0.5, seconds=0.1))
  assert record["fitness"] == 0.5 and record["status"] == "ok" and record["seconds"] == 0.1
  assert workers.result_record({"fitness": math.nan, "status": "nan"})["fitness"] == -math.inf


def test_actors_keep_the_drivers_xla_flags_and_use_one_core():
  env = workers.actor_environment({"XLA_FLAGS": "--xla_cpu_copy_insertion_use_region_analysis=true",
                                   "JAX_PLATFORMS": "cpu", "HOME": "/root"})
  assert env["XLA_FLAGS"].split() == ["--xla_cpu_copy_insertion_use_region_analysis=true",
                                      "--xla_cpu_multi_thread_eigen=false"]
  assert env["PJRT_NPROC"] == "1" and env["JAX_PLATFORMS"] == "cpu" and "HOME" not in env
  assert workers.actor_environment(env) == env  # the actor applies it again: no change


def test_explicit_thread_settings_win_over_one_core():
  env = workers.actor_environment({"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true",
                                   "PJRT_NPROC": "4"})
  assert env["XLA_FLAGS"] == "--xla_cpu_multi_thread_eigen=true" and env["PJRT_NPROC"] == "4"


def test_build_evaluator_from_a_factory_path():
  evaluator = workers.build_evaluator("fake", {"delay_s": 0.0}, "tests.search.fakes:make")
  assert isinstance(evaluator, fakes.FakeEvaluator)


def test_local_pool_scores_in_submission_order():
  import dsl
  from search.evolution import Child
  pool = workers.LocalPool(fakes.FakeEvaluator(), slots=2)
  programs = [dsl.library.load(n) for n in ("adamw", "lion")]
  for i, p in enumerate(programs):
    pool.submit([Child(i, 0, 0, "x", p, str(i))])
  first, second = pool.wait(), pool.wait()
  assert [first[0].batch[0].id, second[0].batch[0].id] == [0, 1]
  assert first[0].results[0]["fitness"] == fakes.toy_fitness(programs[0])


@pytest.mark.slow
def test_ray_workers_survive_a_crash(tmp_path):
  ray = pytest.importorskip("ray")
  marker = tmp_path / "crashed"
  config = small_config(tmp_path, max_programs=60, overrides=[
      "workers.backend=ray", "workers.num_workers=2", "workers.batch_size=2",
      f"task.overrides={{crash_marker: '{marker}'}}",
      # The monitor's work goes to the same actors, scored on a second task (no crash there).
      "meta_validation.task=fake_10x", "meta_validation.evaluator=tests.search.fakes:make",
      "meta_validation.every=10"])
  folder = run_folder.RunFolder(tmp_path / "test")
  messages = []
  pool = workers.RayPool(config.task.name, config.task.overrides, config.task.evaluator,
                         num_workers=2, max_restarts=2)
  try:
    search = driver.Search(config, folder, pool, log=messages.append)
    search.run()
    events = folder.events()
    assert marker.exists() and any("died" in m for m in messages)
    assert len(events) == 61 and len({e["id"] for e in events}) == 61
    # The crashed actor gets no work until Ray has restarted it, then it is back in service.
    deadline = time.monotonic() + 120
    while pool.workers < 2 and time.monotonic() < deadline:
      pool.wait(1.0)
    assert pool.workers == 2
    points = search.monitor.rows
    assert [r["scored"] for r in points] == list(range(10, search.state.scored + 1, 10))
    assert any(math.isfinite(r["meta_fitness"]) for r in points)
  finally:
    pool.close()
  assert not ray.is_initialized()


@pytest.mark.slow
def test_ray_worker_scores_a_real_proxy_task(tmp_path):
  ray = pytest.importorskip("ray")
  config = small_config(tmp_path, max_programs=6, population_size=4, overrides=[
      "task.evaluator=''", "task.name=quadratic", "task.overrides={steps: 20}",
      "evolution.max_program_length=12", "tune_initial=true"])
  pool = workers.RayPool(config.task.name, config.task.overrides, "", num_workers=1)
  try:
    folder = run_folder.RunFolder(tmp_path / "test")
    driver.Search(config, folder, pool).run()
  finally:
    pool.close()
  events = list(folder.events())
  # The warm start is the tuned AdamW that fitness is normalised against: fitness 0.
  assert len(events) == 7 and events[0]["status"] == "ok"
  assert events[0]["fitness"] == pytest.approx(0.0, abs=1e-6)
  assert events[0]["worker"].startswith("worker-0@")
  assert all(e["status"] in ("ok", "nan", "diverged", "timeout", "early_stopped", "error",
                             "cached") for e in events)
  assert not ray.is_initialized()


def test_task_modules_are_the_user_modules_under_the_working_directory(tmp_path, monkeypatch):
  (tmp_path / "my_task.py").write_text("def make():\n  pass\n")
  (tmp_path / "my_package").mkdir()
  (tmp_path / "my_package" / "__init__.py").write_text("")
  (tmp_path / "my_package" / "tasks.py").write_text("def make():\n  pass\n")
  monkeypatch.chdir(tmp_path)
  monkeypatch.syspath_prepend(str(tmp_path))
  # Sent to a cluster's workers: the file, the top-level package folder; not a registered
  # task, an installed module or one that does not import.
  assert workers.task_modules("my_task:make", "my_package.tasks:make", "mlp_digits",
                              "json:loads", "no_such_module:make") == [
                                  str(tmp_path.resolve() / "my_task.py"),
                                  str(tmp_path.resolve() / "my_package")]


@pytest.mark.slow
def test_ray_workers_import_a_user_task_from_the_working_directory(tmp_path, monkeypatch):
  ray = pytest.importorskip("ray")
  import dsl  # pylint: disable=import-outside-toplevel
  from search.evolution import Child  # pylint: disable=import-outside-toplevel
  (tmp_path / "my_quadratic.py").write_text(
      "import proxy_tasks\n\n\ndef make(steps=10):\n"
      "  return proxy_tasks.resolve('quadratic', steps=steps, fitness_reference='none')\n")
  monkeypatch.chdir(tmp_path)  # only the working directory holds it (not on sys.path here)
  pool = workers.RayPool("my_quadratic:make", {"steps": 5}, "", num_workers=1)
  try:
    pool.submit([Child(0, 0, 0, "x", dsl.library.load("sgd"), "k")])
    done = []
    while not done:
      done = pool.wait(60.0)
  finally:
    pool.close()
  record = done[0].results[0]
  assert record["status"] == "ok" and record["fitness"] == -record["metric"] < 0
  assert not ray.is_initialized()
