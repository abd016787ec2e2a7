"""The warm start (search.warm_start): loading, and scoring through a pool whose workers die."""

import dsl
from search import warm_start
from search.workers import Completed


class DyingPool:
  """Scores each program's length as its fitness; the first batch's worker dies once."""

  def __init__(self):
    self.pending, self.submitted, self.died = [], 0, False

  def submit(self, batch, task=None):
    self.submitted += 1
    self.pending.append(list(batch))

  def wait(self, timeout):
    done = []
    for batch in self.pending:
      if not self.died:
        self.died = True
        done.append(Completed(batch, None, "w0", "killed"))
      else:
        done.append(Completed(batch, [{"fitness": float(len(w.program.statements)),
                                       "status": "ok"} for w in batch], "w1"))
    self.pending = []
    return done


def test_load_initial_program_takes_a_library_name_or_a_file(tmp_path):
  assert warm_start.load_initial_program("adamw") == dsl.library.load("adamw")
  path = tmp_path / "p.py"
  path.write_text(dsl.library.load("lion").to_text())
  assert warm_start.load_initial_program(str(path)) == dsl.library.load("lion")


def test_score_now_resends_a_batch_whose_worker_died_and_keeps_the_order():
  programs = [dsl.library.load("lion"), dsl.library.load("adamw"), dsl.library.load("lion")]
  pool, log = DyingPool(), []
  scored = warm_start.score_now(pool, programs, 2, lambda: False, log.append)
  assert [r["fitness"] for r, _ in scored] == [float(len(p.statements)) for p in programs]
  assert {worker for _, worker in scored} == {"w1"} and pool.submitted == 3
  assert log == ["w0 died scoring the initial program; trying again"]


def test_score_now_stops_when_interrupted():
  assert warm_start.score_now(DyingPool(), [dsl.library.load("adamw")], 1, lambda: True,
                              print) is None


def test_tuning_metric_ranks_by_the_normalized_fitness_not_the_raw_suite_metric():
  # A suite's raw metric is the mean of its tasks' metrics, decided by the largest-scale task;
  # the search ranks by the mean log-ratio, and so must the warm start's tuning.
  better_fitness = {"status": "ok", "metric": 2.0, "normalized": -0.05}
  worse_fitness = {"status": "ok", "metric": 1.5, "normalized": -0.40}
  assert (warm_start.tuning_metric(better_fitness) < warm_start.tuning_metric(worse_fitness))
  assert abs(warm_start.tuning_metric(better_fitness) - 1.0512710963760241) < 1e-12


def test_tuning_metric_falls_back_to_the_metric_and_fails_on_failures():
  import math
  assert warm_start.tuning_metric({"status": "ok", "metric": 0.3, "normalized": None}) == 0.3
  assert warm_start.tuning_metric({"status": "ok", "metric": 0.3,
                                   "normalized": math.nan}) == 0.3
  assert math.isnan(warm_start.tuning_metric({"status": "nan", "metric": None,
                                              "normalized": None}))
