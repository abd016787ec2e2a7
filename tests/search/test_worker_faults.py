"""Workers that die: the pool parks, probes, replaces or drops actors (a fake Ray, fast), the
driver waits while no worker is free, and (slow, real Ray) a worker process killed with
``kill -9`` mid-batch is restarted and its batch scored again."""

import collections
import hashlib
import os
import re
import signal
import sys
import threading
import time

import pytest

import dsl
from runlog import folder as run_folder
from search import driver, workers
from search.evolution import Child
from tests.search import fake_ray, fakes
from tests.search.helpers import run_search, small_config


def _child(i: int) -> Child:
  program = dsl.library.load("sgd")
  return Child(i, 0, 0, "test", program, f"key{i}")


@pytest.fixture(name="ray")
def _fake_ray(monkeypatch):
  ray = fake_ray.FakeRay()
  monkeypatch.setitem(sys.modules, "ray", ray)
  return ray


def _pool(num_workers=2, max_restarts=3):
  return workers.RayPool("fake", {}, "tests.search.fakes:make", num_workers=num_workers,
                         max_restarts=max_restarts)


def _drain(pool):
  """Everything in flight, back."""
  out = []
  while pool.in_flight:
    out += pool.wait(0)
  return out


def test_a_crashed_actor_gets_no_work_until_ray_has_restarted_it(ray):
  pool = _pool()
  first, second = ray.actors
  first.held = True
  pool.submit([_child(1), _child(2)])  # to the first actor, which is held mid-batch
  pool.submit([_child(3)])             # to the second, done at once
  first.crash()
  done = sorted(pool.wait(0), key=lambda c: c.batch[0].id)
  assert [c.batch[0].id for c in done] == [1, 3]
  assert done[0].results is None and done[0].worker == "worker-0"  # to be sent again
  assert done[1].results is not None
  assert (pool.workers, pool.slots) == (1, 1)
  # While it restarts every batch goes to the other actor: none is lost on the restarting
  # one, and its restart costs nothing of workers.max_restarts.
  for i in range(10, 20):
    pool.submit([_child(i)])
    assert all(c.results is not None for c in _drain(pool))
  assert len(first.calls) == 0 and len(second.calls) == 11
  first.restart()
  assert pool.wait(0) == [] and pool.workers == 2  # its probe answered
  pool.submit([_child(30)])
  assert len(first.calls) == 1  # back in service (the least busy)
  assert len(ray.actors) == 2   # restarted by Ray, not replaced


def test_an_actor_dead_for_good_is_replaced_up_to_max_restarts_times_then_dropped(ray):
  pool = _pool(max_restarts=1)
  ray.actors[0].die()
  pool.submit([_child(1)])  # to worker 0 (least busy, lowest index): fails at once
  assert pool.wait(0)[0].results is None
  pool.wait(0)  # its probe fails: a new actor for worker 0, parked ...
  assert len(ray.actors) == 3 and pool.workers == 1
  pool.wait(0)  # ... until its probe answers
  assert pool.workers == 2
  pool.submit([_child(2)])
  assert ray.actors[2].calls  # the replacement scores worker 0's batches
  _drain(pool)
  ray.actors[2].die()  # worker 0's one replacement is spent: dropped for good
  pool.submit([_child(3)])
  assert _drain(pool)[0].results is None
  pool.wait(0)
  assert len(ray.actors) == 3 and pool.workers == 1
  ray.actors[1].die()  # worker 1: replaced once, then dropped too
  pool.submit([_child(4)])
  _drain(pool)
  pool.wait(0)
  pool.wait(0)
  assert len(ray.actors) == 4 and pool.workers == 1
  ray.actors[3].die()
  pool.submit([_child(5)])
  _drain(pool)
  pool.wait(0)
  with pytest.raises(RuntimeError, match="every worker has died"):
    pool.wait(0)
  with pytest.raises(RuntimeError, match="every worker has died"):
    pool.submit([_child(6)])


def test_an_actor_whose_constructor_fails_is_dropped_not_replaced(ray):
  pool = _pool(max_restarts=3)
  ray.actors[0].die(init_failed=True)
  pool.submit([_child(1)])
  pool.submit([_child(2)])
  _drain(pool)
  pool.wait(0)
  assert len(ray.actors) == 2 and pool.workers == 1


def test_submit_waits_for_a_parked_actor_when_none_is_ready(ray):
  pool = _pool(num_workers=1)
  actor, = ray.actors
  actor.held = True
  pool.submit([_child(1)])
  actor.crash()
  assert pool.wait(0)[0].results is None and pool.workers == 0
  ray.on_wait = lambda r: actor.restart() if r.waits >= 5 else None
  pool.submit([_child(1)])  # blocks until the restart
  assert ray.waits >= 5 and actor.calls and pool.workers == 1


class _NoFreeWorkerForAWhile(workers.LocalPool):
  """Every worker is parked (``slots`` 0) for a few waits, twice, with nothing in flight."""

  def __init__(self, evaluator):
    super().__init__(evaluator)
    self.waits = 0
    self.parked_waits = 0

  @property
  def slots(self):
    return 0 if 20 <= self.waits < 25 or 60 <= self.waits < 70 else 1

  @slots.setter
  def slots(self, value):
    pass  # LocalPool's constructor sets it

  def wait(self, timeout=None):
    self.waits += 1
    if self.slots == 0:
      self.parked_waits += 1
    return super().wait(timeout)


def test_the_search_waits_while_no_worker_is_free_and_finishes(tmp_path):
  config = small_config(tmp_path, max_programs=150)
  evaluator = fakes.FakeEvaluator()
  folder = run_folder.RunFolder(tmp_path / "test")
  pool = _NoFreeWorkerForAWhile(evaluator)
  search = driver.Search(config, folder, pool)
  search.run()
  assert pool.parked_waits == 15
  events = folder.events()
  assert sorted(e["id"] for e in events) == list(range(151))


def _worker_pid(name: str) -> int:
  return int(name.rsplit(":", 1)[1])


@pytest.mark.slow
def test_a_worker_killed_mid_batch_restarts_and_its_batch_is_scored_again(tmp_path):
  pytest.importorskip("ray")
  log_path, marker = tmp_path / "scored.txt", tmp_path / "stalled"
  config = small_config(tmp_path, max_programs=120, overrides=[
      "workers.backend=ray", "workers.num_workers=2", "workers.batch_size=4",
      f"task.overrides={{delay_s: 0.01, log_path: '{log_path}', stall_marker: '{marker}'}}"])
  killed = []

  def kill_the_stalled_worker():
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
      text = marker.read_text() if marker.exists() else ""
      if text.endswith("\n"):  # the worker wrote its pid and hangs mid-batch
        killed.append(int(text))
        os.kill(killed[0], signal.SIGKILL)
        return
      time.sleep(0.02)

  killer = threading.Thread(target=kill_the_stalled_worker, daemon=True)
  killer.start()
  messages = []
  pool = workers.RayPool(config.task.name, config.task.overrides, config.task.evaluator,
                         num_workers=2, max_restarts=2)
  try:
    search = driver.Search(config, run_folder.RunFolder(tmp_path / "test"), pool,
                           log=messages.append)
    search.run()
    scored = collections.Counter(log_path.read_text().split())
    # Ray restarts the killed actor (it builds its evaluator again): back in service.
    deadline = time.monotonic() + 120
    while pool.workers < 2 and time.monotonic() < deadline:
      pool.wait(1.0)
    assert pool.workers == 2
    restarted = set()
    for i in range(4):  # the least busy actor first: both get one
      pool.submit([_child(i)])
    while pool.in_flight:
      restarted |= {done.worker for done in pool.wait(1.0) if done.results is not None}
  finally:
    pool.close()
  killer.join(timeout=5)
  assert killed, "no worker stalled"
  died = [m for m in messages if re.match(r"worker-\d died \(.*\); its \d programs are sent "
                                          r"again", m)]
  assert len(died) == 1, messages
  index = died[0].split()[0]
  events = run_folder.RunFolder(tmp_path / "test").events()
  assert sorted(e["id"] for e in events) == list(range(121))  # every child, once
  assert len(restarted) == 2 and all(_worker_pid(n) != killed[0] for n in restarted)
  assert any(n.startswith(index + "@") for n in restarted)  # the same worker, a new process
  # Scored once each, but for the first program of the killed batch: scored, lost, again.
  assert sorted(scored.values()).count(2) == 1 and max(scored.values()) == 2
  trained = {hashlib.sha256(e["program"].encode()).hexdigest() for e in events
             if e["status"] != "cached"}
  assert set(scored) == trained


def test_fake_ray_runs_a_whole_search(ray, tmp_path):
  """The fake is faithful enough for the driver: a search on it ends like one on LocalPool."""
  config = small_config(tmp_path / "a", max_programs=80)
  pool = _pool(num_workers=1)  # one slot, like LocalPool: the same order of events
  folder = run_folder.RunFolder(tmp_path / "a" / "test")
  driver.Search(config, folder, pool).run()
  reference = run_search(small_config(tmp_path / "b", max_programs=80))[1].events()
  assert [e["key"] for e in folder.events()] == [e["key"] for e in reference]
