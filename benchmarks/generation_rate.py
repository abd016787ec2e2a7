"""Generation (tournament + mutation + abstract execution + cache key + redundancy) vs evaluation.

The driver must make children at least 10x faster than the workers score them, or workers
starve. Prints both rates, measured in this one process, and their ratio:

    python benchmarks/generation_rate.py [--task mlp_digits] [--children 10000] [--programs 64]
        [--target-length 9]

Generation runs ``search.evolution.generate`` on an AdamW-warm-started population of 1000 (the
paper's settings), with the real fitness cache key (``dsl.FitnessCache.key``: semantic hash,
then functional fingerprint on a memo miss) and ``dsl.redundant_statements``; children join with
a cheap fake fitness so the population drifts as in a search. Both rates are steady-state: the
one-time costs are paid before the clock starts and printed apart (the fingerprint's NumPy
twins of the function table are checked once against JAX, ~2 s per driver process, nothing over
a search of minutes or more; before they were counted, 2,000 children gave a rate of 1,350/s
where the steady state is several times higher). Evaluation is
``proxy_tasks.Evaluator`` on the task's default settings, after a warm-up batch that compiles it
(so it is the steady-state rate of one worker).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from search import workers  # noqa: E402

# One XLA thread, as in a worker: its environment, set before JAX starts.
os.environ.update(workers.actor_environment(os.environ))

import dsl  # noqa: E402
from search import analysis, evolution  # noqa: E402


def one_time_cost() -> float:
  """Seconds the driver spends once, at its first fingerprints (checking the NumPy twins)."""
  from dsl import fingerprint  # pylint: disable=import-outside-toplevel
  start = time.perf_counter()
  fingerprint.impls()
  return time.perf_counter() - start


def generation_rate(children: int, population_size: int = 1000, target_length: int = 9
                    ) -> tuple[float, list]:
  cache = analysis.make_cache()
  state = evolution.new_state(seed=0, population_size=population_size)
  adamw = dsl.library.load("adamw")
  evolution.start(state, evolution.Member(0, adamw, cache.key(adamw), 0.0), repeats=1)
  made = []
  for _ in range(50):  # warm up (first fingerprints compile their functions)
    evolution.absorb(state, evolution.generate(state, cache.key,
                                               redundant=analysis.redundant_fraction), 0.0)
  start = time.perf_counter()
  for _ in range(children):
    child = evolution.generate(state, cache.key, redundant=analysis.redundant_fraction)
    cache.get(child.key)
    made.append(child.program)
    # a cheap stand-in fitness: programs near target_length win, so the population drifts
    evolution.absorb(state, child, -abs(len(child.program.statements) - target_length))
  return children / (time.perf_counter() - start), made


def evaluation_rate(task_name: str, programs: list) -> float:
  import proxy_tasks  # pylint: disable=import-outside-toplevel
  evaluator = proxy_tasks.Evaluator(proxy_tasks.get(task_name))
  evaluator.evaluate(programs[:8])  # compiles
  start = time.perf_counter()
  evaluator.evaluate(programs)
  return len(programs) / (time.perf_counter() - start)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--task", default="mlp_digits")
  parser.add_argument("--children", type=int, default=10000)
  parser.add_argument("--programs", type=int, default=64)
  parser.add_argument("--target-length", type=int, default=9,
                      help="the stand-in fitness favours programs of this many statements")
  args = parser.parse_args()
  once = one_time_cost()
  generated, programs = generation_rate(args.children, target_length=args.target_length)
  print(f"generation: {generated:9.1f} children/s  (tournament + mutation + types + cache key "
        f"+ redundancy; P=1000; after a one-time {once:.1f} s checking the fingerprint's "
        "function table)")
  evaluated = evaluation_rate(args.task, programs[-args.programs:])
  print(f"evaluation: {evaluated:9.1f} programs/s  ({args.task}, default settings, one process, "
        "after compiling)")
  print(f"ratio:      {generated / evaluated:9.1f}x  (needs >= 10x per worker)")


if __name__ == "__main__":
  main()
