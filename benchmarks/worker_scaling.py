"""Scoring throughput of the Ray pool with 1 and 2 (or more) workers.

    python benchmarks/worker_scaling.py [--task mlp_digits] [--programs 160] [--workers 1 2]
                                        [--batch-size 4] [--repeats 1]

For each worker count: an embedded Ray with that many actors (each on one core:
``search.workers.actor_environment``), a warm-up batch per actor (compiles the task, scores
the AdamW reference), then the same fixed list of AdamW mutants scored through
``search.workers.RayPool`` the way the driver does it (batches handed to whichever actor is
free, two in flight per actor, ``ray.wait``); the clock runs from the first batch to the last
result. ``--repeats`` runs the worker counts in turn that many times (1, 2, 1, 2, ...) and
reports the median of each, so load that comes and goes hits both alike. Prints each run's
programs/s and, at the end, the medians and the speed-up over the first worker count. Also
printed: programs per CPU-second the actors used (read from ``/proc``, so local Ray only):
on a machine others load too, wall-clock scaling says little, but this says whether the
workers slow each other down (it should not drop from 1 to 2 workers). On a shared machine
run it when the cores are idle, and report ``uptime``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import numpy as np  # noqa: E402

import dsl  # noqa: E402
from search import analysis, evolution, mutation, workers  # noqa: E402


def mutants(count: int, seed: int = 0) -> list[evolution.Child]:
  rng = np.random.default_rng(seed)
  adamw = dsl.library.load("adamw")
  out = []
  for i in range(count):
    program, applied = mutation.mutate(adamw, rng, max_length=20)
    out.append(evolution.Child(i + 1, 0, 0, str(applied), program, analysis.text_key(program)))
  return out


def cpu_seconds(pids: set[int]) -> float:
  """User + system CPU time of local processes ``pids`` (0 for those not readable)."""
  total = 0.0
  for pid in pids:
    try:
      with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
      continue
    total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
  return total


def throughput(task: str, count: int, children: list, batch_size: int) -> tuple[float, float]:
  """``(programs/s, programs per CPU-second of the actors)`` with ``count`` actors."""
  pool = workers.RayPool(task, {}, num_workers=count, batches_per_worker=2)
  try:
    for i in range(count):  # warm up every actor (compiles the task)
      pool.submit(children[:batch_size])
    pids: set[int] = set()
    while len(pids) < count:
      pids.update(int(c.worker.rsplit(":", 1)[1]) for c in pool.wait(None))
    queue = [children[i:i + batch_size] for i in range(0, len(children), batch_size)]
    start, cpu = time.perf_counter(), cpu_seconds(pids)
    done = 0
    while done < len(children):
      while queue and pool.in_flight < pool.slots:
        pool.submit(queue.pop(0))
      for completed in pool.wait(None):
        assert completed.results is not None, completed.error
        done += len(completed.batch)
    seconds, cpu = time.perf_counter() - start, cpu_seconds(pids) - cpu
    return len(children) / seconds, (len(children) / cpu if cpu > 0 else float("nan"))
  finally:
    pool.close()


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--task", default="mlp_digits")
  parser.add_argument("--programs", type=int, default=160)
  parser.add_argument("--batch-size", type=int, default=4)
  parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
  parser.add_argument("--repeats", type=int, default=1)
  args = parser.parse_args()
  children = mutants(args.programs)
  rates: dict[int, list[float]] = {count: [] for count in args.workers}
  per_cpu: dict[int, list[float]] = {count: [] for count in args.workers}
  for repeat in range(args.repeats):
    for count in args.workers:
      rate, rate_per_cpu = throughput(args.task, count, children, args.batch_size)
      rates[count].append(rate)
      per_cpu[count].append(rate_per_cpu)
      print(f"run {repeat + 1}: {count} worker{'s' if count > 1 else ' '}: {rate:8.1f} "
            f"programs/s, {rate_per_cpu:6.1f} per CPU-second of the workers", flush=True)
  first = statistics.median(rates[args.workers[0]])
  for count in args.workers:
    median = statistics.median(rates[count])
    print(f"{count} worker{'s' if count > 1 else ' '}: {median:8.1f} programs/s "
          f"(median of {len(rates[count])})  x{median / first:.2f}; "
          f"{statistics.median(per_cpu[count]):6.1f} per CPU-second of the workers",
          flush=True)


if __name__ == "__main__":
  main()
