"""Throughput of the evaluator on the reference workload, against a per-program jit.

  python benchmarks/eval_throughput.py [--programs 96] [--reference-programs 3]
                                       [--slots 8] [--threads 2]

Workload: the 64-32-10 tanh MLP on scikit-learn's digits, batch 64, 300 steps (the task
``mlp_digits``), scoring the built-in programs and mutations of AdamW
(``search.mutation.mutate``, 1 to 3 mutations each, ``numpy`` seed 0).

Counting: programs scored per wall-clock second on the whole machine, after compilation (the
evaluator compiles once per task; its compile time is printed apart); the evaluator runs
``--threads`` calls at once (default 2: one per core of the 2-core machine this was written
for). The per-program jit is ``proxy_tasks.reference`` (``dsl.compile`` in a jitted
``lax.scan``), which compiles every program: its rate includes that compile, as it must.

Peak: a 1024 x 1024 float32 matmul timed here on all cores; ``peak_fraction`` is the
evaluator's useful FLOP rate (forward and backward matmuls of the model, ~3 x forward) over it.
(Kept as it was so that its figures stay comparable. ``benchmarks/task_throughput.py`` measures
any task and takes the FLOPs from XLA's cost analysis instead: on this MLP that is 1.39x fewer
than 3 x forward, since the gradient with respect to the input images is dead code XLA drops.)
The last line is JSON with ``programs_per_s``, ``per_program_jit_per_s``, ``peak_fraction``.
Timings are noisy on a shared machine: compare the ratios printed within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# pylint: disable=wrong-import-position
import proxy_tasks  # first: sets the XLA flags before JAX starts
import jax
import jax.numpy as jnp
import numpy as np

import dsl
from proxy_tasks import reference
from search.mutation import mutate


def workload(count: int, seed: int = 0) -> list[dsl.Program]:
  rng = np.random.default_rng(seed)
  programs = [dsl.library.load(name) for name in dsl.library.names()]
  adamw = dsl.library.load("adamw")
  while len(programs) < count:
    program = adamw
    for _ in range(int(rng.integers(1, 4))):
      program, _ = mutate(program, rng)
    programs.append(program)
  return programs[:count]


def matmul_peak_flops(size: int = 1024, repeats: int = 20) -> float:
  x = jnp.ones((size, size), jnp.float32)
  f = jax.jit(lambda a: a @ a)
  f(x).block_until_ready()
  best = float("inf")
  for _ in range(3):
    start = time.perf_counter()
    for _ in range(repeats):
      y = f(x)
    y.block_until_ready()
    best = min(best, (time.perf_counter() - start) / repeats)
  return 2 * size ** 3 / best


def mlp_flops_per_program(task: proxy_tasks.Task) -> float:
  c = task.config
  sizes = (64, *c.hidden, 10)
  forward = 2 * sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))  # per example
  return 3 * forward * c.batch_size * c.steps


def measure(task_name: str, count: int, reference_count: int, slots: int, threads: int,
            peak: float) -> dict:
  task = proxy_tasks.get(task_name)
  programs = workload(count)
  evaluator = proxy_tasks.Evaluator(task, slots=slots, threads=threads)
  start = time.perf_counter()
  evaluator.evaluate(programs[:1])  # compiles, scores the AdamW reference
  compile_s = time.perf_counter() - start
  start = time.perf_counter()
  results = evaluator.evaluate(programs)
  evaluator_s = time.perf_counter() - start
  statuses = {s: sum(r.status == s for r in results) for s in proxy_tasks.STATUSES}
  start = time.perf_counter()
  for program in programs[:reference_count]:
    reference.metric(task, program)
  reference_s = time.perf_counter() - start
  per_s = count / evaluator_s
  jit_per_s = reference_count / reference_s
  flops = mlp_flops_per_program(task) if task.config.model == "mlp" else float("nan")
  return {"task": task_name, "programs": count, "programs_per_s": per_s,
          "per_program_jit_per_s": jit_per_s, "speedup": per_s / jit_per_s,
          "peak_fraction": per_s * flops / peak, "compile_s": compile_s,
          "statuses": {k: v for k, v in statuses.items() if v}}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--programs", type=int, default=96)
  parser.add_argument("--reference-programs", type=int, default=3)
  parser.add_argument("--slots", type=int, default=8)
  parser.add_argument("--threads", type=int, default=2)
  args = parser.parse_args(argv)
  if not proxy_tasks.xla_flags.applied():
    print("warning: JAX started before proxy_tasks set its XLA flags; slower", file=sys.stderr)
  peak = matmul_peak_flops()
  print(f"matmul peak: {peak / 1e9:.1f} GFLOP/s (1024^2 float32, all cores)")
  figures = {}
  for label, name in (("reference workload", "mlp_digits"),
                      ("default proxy", proxy_tasks.DEFAULT_PROXY)):
    if name in figures:
      print(f"{label} ({name}): the same task as above")
      continue
    figures[name] = m = measure(name, args.programs, args.reference_programs, args.slots,
                                args.threads, peak)
    print(f"{label} ({name}): {m['programs_per_s']:.1f} programs/s "
          f"(slots {args.slots}, threads {args.threads}; compile + AdamW {m['compile_s']:.1f} s); "
          f"per-program jit {m['per_program_jit_per_s']:.2f} programs/s; "
          f"speedup {m['speedup']:.0f}x; {100 * m['peak_fraction']:.1f}% of matmul peak; "
          f"statuses {m['statuses']}")
  main_figures = figures["mlp_digits"]
  print(json.dumps({"programs_per_s": round(main_figures["programs_per_s"], 2),
                    "per_program_jit_per_s": round(main_figures["per_program_jit_per_s"], 3),
                    "peak_fraction": round(main_figures["peak_fraction"], 4),
                    "speedup": round(main_figures["speedup"], 1),
                    "slots": args.slots, "threads": args.threads}))
  return 0


if __name__ == "__main__":
  sys.exit(main())
