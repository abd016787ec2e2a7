"""search.cost: CPU hours and throughput per run folder, accumulated over sessions."""

import json
import os
import pathlib
import time

import pytest

from search import cost, workers
from tests.search.helpers import run_search, small_config


class _Ticker:
  """A clock that returns what it is set to."""

  def __init__(self, value=0.0):
    self.value = value

  def __call__(self):
    return self.value


def _done(worker, *seconds):
  return workers.Completed([None] * len(seconds),
                           [{"fitness": 0.0, "status": "ok", "seconds": s} for s in seconds],
                           worker)


def _burn(seconds):
  end = time.process_time() + seconds
  while time.process_time() < end:
    pass


@pytest.mark.skipif(not pathlib.Path("/proc/self/stat").exists(), reason="no /proc")
def test_process_cpu_is_read_from_proc():
  _burn(0.2)
  before = cost.process_cpu_seconds(os.getpid())
  _burn(0.3)
  after = cost.process_cpu_seconds(os.getpid())
  assert after - before == pytest.approx(0.3, abs=0.05)
  assert abs(after - time.process_time()) < 0.1  # the same quantity as the driver's
  assert cost.process_cpu_seconds(2**31 - 1) is None  # no such process


def test_workers_are_measured_where_they_run_and_estimated_elsewhere():
  cpu = {101: 40.0, 102: None}  # pid 102 cannot be read (its process gone, no /proc)
  meter = cost.CostMeter(clock=_Ticker(), cpu=_Ticker(), host="here",
                         process_cpu=lambda pid: cpu.get(pid))
  meter.observe([_done("worker-0@here:101", 1.0, 2.0),   # measured: 40 s of process CPU
                 _done("worker-1@here:102", 3.0),        # unreadable: its reported 3 s
                 _done("worker-2@there:7", 5.0, None),   # another node: its reported 5 s
                 _done("local", 11.0)])                   # in the driver: its CPU already
  cpu[101] = 30.0  # a reading that went down (a recycled pid) never lowers the figure
  meter.observe([_done("worker-0@here:101", 1.0)])
  session = meter.session()
  assert session["worker_cpu_s"] == 40.0 + 3.0 + 5.0
  assert session["worker_reported_s"] == 1.0 + 2.0 + 3.0 + 5.0 + 11.0 + 1.0
  assert (session["workers_measured"], session["workers_estimated"]) == (1, 2)
  died = workers.Completed([None], None, "worker-3@here:103")  # no results: nothing reported
  meter.observe([died])
  assert meter.session()["worker_reported_s"] == session["worker_reported_s"]


def test_sessions_accumulate_and_never_step_back(tmp_path):
  clock, cpu = _Ticker(100.0), _Ticker(5.0)
  first = cost.CostMeter(clock=clock, cpu=cpu, host="here", process_cpu=lambda pid: None)
  first.resume(tmp_path)  # nothing yet
  clock.value, cpu.value = 400.0, 65.0  # 300 s of wall, 60 s of driver CPU
  first.observe([_done("worker-0@there:1", 120.0)])
  record = first.write(tmp_path, programs_trained=600, programs_generated=1000)
  assert record["cpu_hours"] == pytest.approx((60.0 + 120.0) / 3600)
  assert record["programs_per_s"] == pytest.approx(600 / 300)
  assert record["programs_per_cpu_hour"] == pytest.approx(600 / ((60.0 + 120.0) / 3600))
  assert json.loads((tmp_path / "cost.json").read_text()) == record

  second = cost.CostMeter(clock=clock, cpu=cpu, host="here", process_cpu=lambda pid: None)
  second.resume(tmp_path)
  clock.value, cpu.value = 500.0, 75.0
  # A resumed state that counts fewer programs (events lost to a crash) does not lower them.
  record = second.write(tmp_path, programs_trained=550, programs_generated=1500)
  assert len(record["sessions"]) == 2
  assert record["wall_s"] == pytest.approx(300.0 + 100.0)
  assert record["driver_cpu_s"] == pytest.approx(60.0 + 10.0)
  assert record["worker_cpu_s"] == pytest.approx(120.0)
  assert (record["programs_trained"], record["programs_generated"]) == (600, 1500)


def test_a_foreign_cost_file_is_an_error_naming_it(tmp_path):
  (tmp_path / "cost.json").write_text("{not json")
  with pytest.raises(ValueError, match=r"cost.json: corrupt cost record"):
    cost.CostMeter().resume(tmp_path)
  (tmp_path / "cost.json").write_text('{"format": 7}')
  with pytest.raises(ValueError, match=r"cost.json: not a cost record of format 1"):
    cost.read(tmp_path)


def test_a_search_records_its_cost_and_a_resume_adds_to_it(tmp_path):
  config = small_config(tmp_path, max_programs=60)
  search, folder, _ = run_search(config)
  first = cost.read(folder.path)
  assert len(first["sessions"]) == 1
  assert first["programs_trained"] == search.state.scored
  assert first["programs_generated"] == search.state.generated == 60
  assert first["driver_cpu_s"] > 0 and first["worker_cpu_s"] == 0.0  # scored in the driver
  assert first["cpu_hours"] == pytest.approx(first["driver_cpu_s"] / 3600)
  search, _, _ = run_search(small_config(tmp_path, max_programs=120))
  second = cost.read(folder.path)
  assert len(second["sessions"]) == 2 and second["sessions"][0] == first["sessions"][0]
  assert second["programs_trained"] == search.state.scored > first["programs_trained"]
  for key in ("cpu_hours", "wall_s", "driver_cpu_s"):
    assert second[key] > first[key]


@pytest.mark.skipif(not pathlib.Path("/proc/self/stat").exists(), reason="no /proc")
def test_a_pool_given_after_the_search_is_made_is_metered(tmp_path):
  """``search.run`` makes the search first and starts the workers after (so a refused config
  starts no Ray): its workers' CPU must still reach cost.json. Here the scoring "worker" is
  this process under a Ray actor's name, so its CPU is read from /proc."""
  import socket  # pylint: disable=import-outside-toplevel
  from search import driver  # pylint: disable=import-outside-toplevel
  from runlog import folder as run_folder  # pylint: disable=import-outside-toplevel
  from tests.search import fakes  # pylint: disable=import-outside-toplevel
  config = small_config(tmp_path, max_programs=40)
  folder = run_folder.RunFolder(pathlib.Path(config.output.runs_dir) / config.name)
  search = driver.Search(config, folder, None)
  search.pool = workers.LocalPool(fakes.FakeEvaluator(),
                                  name=f"worker-0@{socket.gethostname()}:{os.getpid()}")
  search.run()
  record = cost.read(folder.path)
  assert record["sessions"][0]["workers_measured"] == 1
  assert record["worker_cpu_s"] > 0
