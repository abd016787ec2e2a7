"""Scoring throughput of the Ray pool with 1 and 2 (or more) workers.

    python benchmarks/worker_scaling.py [--task mlp_digits] [--programs 160] [--workers 1 2]

For each worker count: an embedded Ray with that many actors (one XLA thread each), a warm-up
batch per actor (compiles the task), then the same fixed list of AdamW mutants scored through
``search.workers.RayPool`` the way the driver does it (batches handed to whichever actor is
free, ``ray.wait``). Prints programs/s and the speed-up over one worker, measured in this run.
On a shared machine the numbers are noisy: run it when the cores are idle.
"""

from __future__ import annotations

import argparse
import os
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


def throughput(task: str, count: int, children: list, batch_size: int) -> float:
  pool = workers.RayPool(task, {}, num_workers=count, batches_per_worker=2)
  try:
    for i in range(count):  # warm up every actor (compiles the task)
      pool.submit(children[:batch_size])
    warmed = 0
    while warmed < count:
      warmed += len(pool.wait(None))
    queue = [children[i:i + batch_size] for i in range(0, len(children), batch_size)]
    start = time.perf_counter()
    done = 0
    while done < len(children):
      while queue and pool.in_flight < pool.slots:
        pool.submit(queue.pop(0))
      for completed in pool.wait(None):
        assert completed.results is not None, completed.error
        done += len(completed.batch)
    return len(children) / (time.perf_counter() - start)
  finally:
    pool.close()


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--task", default="mlp_digits")
  parser.add_argument("--programs", type=int, default=160)
  parser.add_argument("--batch-size", type=int, default=4)
  parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
  args = parser.parse_args()
  children = mutants(args.programs)
  rates = {}
  for count in args.workers:
    rates[count] = throughput(args.task, count, children, args.batch_size)
    print(f"{count} worker{'s' if count > 1 else ' '}: {rates[count]:8.1f} programs/s  "
          f"(x{rates[count] / rates[args.workers[0]]:.2f})", flush=True)


if __name__ == "__main__":
  main()
