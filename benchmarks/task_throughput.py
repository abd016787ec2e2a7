"""Throughput of the evaluator on any registered task, and its fraction of the matmul peak.

  python benchmarks/task_throughput.py --task mlp_digits_b256 [--task lm_sklearn_text_b64]
      [--set steps=150 --set width=16] [--programs 48] [--repeats 3] [--slots 8] [--threads 2]
      [--learning BUDGET]

Workload: the built-in programs and mutations of AdamW (``benchmarks/eval_throughput.py``'s
``workload``: ``search.mutation.mutate``, 1 to 3 mutations each, ``numpy`` seed 0), scored by
``proxy_tasks.Evaluator(task, slots, threads, normalize=False)`` (no reference tuning: its
runs are not the search's programs). The first call compiles and is timed apart; then the
same ``--programs`` are scored ``--repeats`` times, each repeat timed on its own with the load
average (``os.getloadavg``) printed next to it, since this machine is shared.

Useful FLOPs per program come from XLA, not a hand model: the cost analysis
(``jax.jit(...).lower(...).compile().cost_analysis()["flops"]``) of one training step's loss
and gradient (``jax.value_and_grad(task.train_loss)``, one run, not vmapped) times ``steps``,
plus one validation ``task.metric``; summed over the task's seeds. XLA counts every
floating-point operation it keeps (elementwise ones too; dead code such as the gradient with
respect to the input data is gone); ``matmul_flops`` is the part in matrix products alone
(``2 * M * N * K`` of every ``dot`` in the same optimized HLO). The hand model of
``eval_throughput.py`` (3 x forward matmuls) also counts the input layer's dead data
gradient: on ``mlp_digits`` it is 1.39x XLA's matmul count.

Peak: a 1024 x 1024 float32 matmul on all cores (``eval_throughput.matmul_peak_flops``),
measured right before each repeat so that both see about the same load (the same load slows
both, so the fraction is steadier than either);
``peak_fraction = programs_per_s * flops_per_program / peak``. Ratios within one run mean more
than absolute rates on a loaded machine; ``cpu_s_per_program`` (this process's CPU time, every
thread, per program) is the steadiest figure there: on a quiet 2-core machine the rate is
about ``2 / cpu_s_per_program`` (a lower bound: contention inflates CPU time too).
``--set`` overrides apply to every ``--task``. ``--learning BUDGET`` also checks that a task
still teaches something: its initial validation metric, AdamW and Lion at the library's
settings, and both tuned (``proxy_tasks.tuning``, BUDGET runs each). The last line is JSON,
one entry per task.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import pathlib
import re
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
os.environ.setdefault("JAX_PLATFORMS", "cpu")

# pylint: disable=wrong-import-position
import proxy_tasks  # first: sets the XLA flags before JAX starts
import dsl
import jax
import jax.numpy as jnp
import numpy as np
import yaml

from eval_throughput import matmul_peak_flops, workload
from proxy_tasks import tuning


class UsageError(ValueError):
  """Bad command-line input: one line, exit status 2."""


def parse_overrides(items: list[str]) -> dict:
  """``["steps=150", "hidden=[64]"]`` -> ``{"steps": 150, "hidden": (64,)}`` (YAML values)."""
  fields = {f.name for f in dataclasses.fields(proxy_tasks.TaskConfig)}
  overrides = {}
  for item in items:
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
      raise UsageError(f"--set {item!r}: expected KEY=VALUE")
    if key not in fields:
      raise UsageError(f"--set {item!r}: unknown task config field '{key}'; fields: "
                       f"{', '.join(sorted(fields))}")
    try:
      value = yaml.safe_load(text)
    except yaml.YAMLError:
      raise UsageError(f"--set {item!r}: the value is not a YAML scalar or list") from None
    overrides[key] = tuple(value) if isinstance(value, list) else value
  return overrides


_HLO_SHAPE = re.compile(r"%([\w.\-]+) = \w+\[([\d,]*)\]")
_HLO_DOT = re.compile(r" dot\(%([\w.\-]+), %([\w.\-]+)\).*lhs_contracting_dims=\{([\d,]*)\}")


def hlo_matmul_flops(hlo_text: str) -> float:
  """``2 * K * prod(output shape)`` summed over every ``dot`` of an optimized HLO module's
  text: the matrix products XLA actually runs (dead ones, e.g. the gradient with respect to
  the input data, are gone)."""
  shapes, total = {}, 0.0
  for line in hlo_text.splitlines():
    found = _HLO_SHAPE.search(line)
    if not found:
      continue
    shape = [int(d) for d in found.group(2).split(",") if d]
    shapes[found.group(1)] = shape
    dot = _HLO_DOT.search(line)
    if dot:
      lhs = shapes[dot.group(1)]
      k = math.prod(lhs[int(d)] for d in dot.group(3).split(",") if d)
      total += 2.0 * k * math.prod(shape)
  return total


def _costs(fn, *args) -> tuple[float, float]:
  """``(XLA flops, matmul flops)`` of one call of ``fn(*args)``, both from XLA's optimized
  computation."""
  compiled = jax.jit(fn).lower(*args).compile()
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):  # older JAX: one dict per computation
    analysis = analysis[0]
  return float(analysis["flops"]), hlo_matmul_flops(compiled.as_text())


def flops_per_program(task: proxy_tasks.Task) -> dict:
  """XLA's and the matmul-only FLOPs of one program on ``task``: steps x (loss + gradient) +
  one validation metric, summed over the task's seeds (see the module docstring)."""
  xla, matmul, step_xla = 0.0, 0.0, 0.0
  for seed in task.config.seeds:
    params, data = task.init_params(seed), task.data(seed)
    row = jnp.asarray(task.plan(seed)[0])
    step = _costs(jax.value_and_grad(task.train_loss), params, data, row)
    metric = _costs(task.metric, params, data)
    xla += task.config.steps * step[0] + metric[0]
    matmul += task.config.steps * step[1] + metric[1]
    step_xla = step[0]
  return {"flops_per_program": xla, "matmul_flops_per_program": matmul,
          "flops_per_step": step_xla}


def _cpu_seconds() -> float:
  """CPU time of this process, every thread (user + system)."""
  times = os.times()
  return times.user + times.system


def measure(task: proxy_tasks.Task, count: int, repeats: int, slots: int, threads: int) -> dict:
  programs = workload(count)
  figures = flops_per_program(task)
  evaluator = proxy_tasks.Evaluator(task, slots=slots, threads=threads, normalize=False)
  start = time.perf_counter()
  evaluator.evaluate(programs[:1])  # compiles
  compile_s = time.perf_counter() - start
  rounds = []
  for _ in range(repeats):
    peak = matmul_peak_flops()
    load = os.getloadavg()[0]
    start, cpu_start = time.perf_counter(), _cpu_seconds()
    results = evaluator.evaluate(programs)
    seconds, cpu = time.perf_counter() - start, _cpu_seconds() - cpu_start
    rate = count / seconds
    rounds.append({"programs_per_s": rate, "cpu_s_per_program": cpu / count,
                   "peak_gflops": peak / 1e9, "load1": load,
                   "peak_fraction": rate * figures["flops_per_program"] / peak,
                   "matmul_peak_fraction": rate * figures["matmul_flops_per_program"] / peak})
  statuses = {s: sum(r.status == s for r in results) for s in proxy_tasks.STATUSES}
  median = lambda key: statistics.median(r[key] for r in rounds)
  return {"task": task.name, "programs": count, "slots": slots, "threads": threads,
          "programs_per_s": median("programs_per_s"),
          "best_programs_per_s": max(r["programs_per_s"] for r in rounds),
          "cpu_s_per_program": median("cpu_s_per_program"),
          "peak_fraction": median("peak_fraction"),
          "matmul_peak_fraction": median("matmul_peak_fraction"),
          "peak_gflops": median("peak_gflops"), "load1": median("load1"),
          "compile_s": compile_s, **figures, "rounds": rounds,
          "statuses": {k: v for k, v in statuses.items() if v}}


def learning_check(task: proxy_tasks.Task, budget: int, slots: int, threads: int) -> dict:
  """Whether the task still teaches something: the initial validation metric, AdamW and Lion
  at the library's settings, and both tuned by ``proxy_tasks.tuning`` (``budget`` runs each)."""
  initial = statistics.mean(float(task.metric(task.init_params(s), task.data(s)))
                            for s in task.config.seeds)
  evaluator = proxy_tasks.Evaluator(task, slots=slots, threads=threads, normalize=False)
  library = dict(zip(tuning.BASELINES, evaluator.metrics(
      [dsl.library.load(name) for name in tuning.BASELINES])))
  tuned = tuning.tune({name: tuning.library_space(name) for name in tuning.BASELINES},
                      evaluator.metrics, budget)
  return {"initial": initial, "library": library, "tuned": tuned}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--task", action="append", required=True,
                      help="a registered task (repeat for several)")
  parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="override a task config field, e.g. --set steps=150 (every task)")
  parser.add_argument("--programs", type=int, default=48)
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--slots", type=int, default=8)
  parser.add_argument("--threads", type=int, default=2)
  parser.add_argument("--learning", type=int, default=0, metavar="BUDGET",
                      help="also check that the task teaches: initial metric, AdamW and Lion "
                           "at library settings and tuned with BUDGET runs each")
  args = parser.parse_args(argv)
  try:
    overrides = parse_overrides(args.set)
    for name, flag in ((args.programs, "--programs"), (args.repeats, "--repeats"),
                       (args.slots, "--slots"), (args.threads, "--threads")):
      if name < 1:
        raise UsageError(f"{flag}: expected a positive integer, got {name}")
    if args.learning < 0:
      raise UsageError(f"--learning: expected a run budget >= 0 (0: no check), got "
                       f"{args.learning}")
    tasks = []
    for name in args.task:
      if name not in proxy_tasks.names():
        raise UsageError(f"--task {name}: unknown task; known: {', '.join(proxy_tasks.names())}")
      try:
        tasks.append(proxy_tasks.get(name, **overrides))
      except (TypeError, ValueError) as error:
        raise UsageError(f"--set: {error}") from None
  except UsageError as error:
    print(f"task_throughput: {error}", file=sys.stderr)
    return 2
  if not proxy_tasks.xla_flags.applied():
    print("warning: JAX started before proxy_tasks set its XLA flags; slower", file=sys.stderr)
  everything = []
  for task in tasks:
    m = measure(task, args.programs, args.repeats, args.slots, args.threads)
    everything.append(m)
    for i, r in enumerate(m["rounds"]):
      print(f"{task.name} repeat {i + 1}: {r['programs_per_s']:.2f} programs/s, "
            f"{r['cpu_s_per_program']:.3f} CPU-s/program, "
            f"{100 * r['peak_fraction']:.1f}% of peak ({r['peak_gflops']:.1f} GFLOP/s), "
            f"load {r['load1']:.1f}")
    print(f"{task.name}: {m['programs_per_s']:.2f} programs/s (median of {args.repeats}; best "
          f"{m['best_programs_per_s']:.2f}; slots {args.slots}, threads {args.threads}; compile "
          f"{m['compile_s']:.1f} s); {m['cpu_s_per_program']:.3f} CPU-s/program; "
          f"{m['flops_per_program'] / 1e9:.3f} GFLOP/program (XLA; "
          f"matmuls {m['matmul_flops_per_program'] / 1e9:.3f}); {100 * m['peak_fraction']:.1f}% "
          f"of the matmul peak (matmuls alone {100 * m['matmul_peak_fraction']:.1f}%); load "
          f"{m['load1']:.1f}; statuses {m['statuses']}")
    if args.learning:
      check = learning_check(task, args.learning, args.slots, args.threads)
      library = ", ".join(f"{k} {v:.3f}" for k, v in check["library"].items())
      print(f"{task.name} learning: initial metric {check['initial']:.3f}; library settings: "
            f"{library}; tuned:\n{tuning.report(check['tuned'])}")
      m["learning"] = {"initial": check["initial"], "library": check["library"],
                       "tuned": {k: t.best_metric for k, t in check["tuned"].items()}}
  print(json.dumps([{k: (round(v, 4) if isinstance(v, float) else v) for k, v in m.items()
                     if k != "rounds"} for m in everything], default=float))
  return 0


if __name__ == "__main__":
  sys.exit(main())
