"""Meta-validation tasks: the proxy families at about 10x and 100x the proxy's cost.

A program that wins on a tiny proxy often fails on a larger task (meta-overfitting; Chen et
al., 2023, Section 2.3 and Figure 3). Meta-validation tasks are larger members of the same
families (``proxy_tasks.register_scaled``: a wider/deeper model, bigger batches, more steps):

========================  =====================================================  ==========
name                      config (overrides of the family's proxy)              cost
========================  =====================================================  ==========
mlp_digits_10x            64-128-10 MLP, batch 128, 600 steps                     ~10x
mlp_digits_100x           64-256-256-10 MLP, batch 128, 600 steps                 ~100x
vit_digits_10x            ViT width 64, 2 blocks, 1300 steps                      ~10x
vit_digits_100x           ViT width 96, 4 blocks, 4 heads, 3000 steps             ~100x
lm_sklearn_text_10x       LM width 64, 2 blocks, batch 32, 900 steps              ~10x
lm_sklearn_text_100x      LM width 128, 4 blocks, 4 heads, batch 32, 1000 steps   ~100x
========================  =====================================================  ==========

The cost column is the wall-clock time of one AdamW run relative to the family's proxy,
measured on a 2-core CPU; ``python -m meta_validation.tasks`` measures and prints it on the
machine at hand (the larger tasks are timed over their first ``--measure-steps`` steps and
extrapolated by the step count, the compiled loop being the same at every step).
"""

from __future__ import annotations

import argparse
import sys

import dsl
import proxy_tasks

# family proxy -> {scale: overrides}. Config, not code: add a row to add a task.
SCALED: dict[str, dict[str, dict]] = {
    "mlp_digits": {
        "10x": dict(hidden=(128,), batch_size=128, steps=600),
        "100x": dict(hidden=(256, 256), batch_size=128, steps=600),
    },
    "vit_digits": {
        "10x": dict(width=64, depth=2, steps=1300),
        "100x": dict(width=96, depth=4, heads=4, steps=3000),
    },
    "lm_sklearn_text": {
        "10x": dict(width=64, depth=2, batch_size=32, steps=900),
        "100x": dict(width=128, depth=4, heads=4, batch_size=32, steps=1000),
    },
}
SCALES = ("10x", "100x")
# The largest built-in meta-validation task whose replay (36 tuning runs + 3 optimizers x 3
# seeds with curves) takes a few minutes on a 2-core CPU; measured with this module.
DEFAULT_REPLAY_TASK = "mlp_digits_100x"


def _register() -> None:
  for family, scales in SCALED.items():
    for scale, overrides in scales.items():
      # Meta-validation scores whole runs: no early stopping, a generous time budget.
      proxy_tasks.register_scaled(f"{family}_{scale}", family, time_budget_s=3600.0,
                                  early_stop_fraction=0.0, **overrides)


_register()


def names() -> list[str]:
  """The built-in meta-validation tasks."""
  return [f"{family}_{scale}" for family in SCALED for scale in SCALES]


def family_of(task_name: str) -> str:
  """The proxy family of a task name (``mlp_digits_10x`` -> ``mlp_digits``)."""
  for scale in SCALES:
    if task_name.endswith("_" + scale):
      return task_name[: -len(scale) - 1]
  return task_name


def scaled_name(proxy_name: str, scale: str) -> str:
  """The meta-validation task of ``proxy_name`` at ``scale`` (``10x`` or ``100x``)."""
  if scale not in SCALES:
    raise ValueError(f"scale must be one of {', '.join(SCALES)}, got '{scale}'")
  return f"{family_of(proxy_name)}_{scale}"


def seconds_per_run(task_name: str, measure_steps: int | None = None, **overrides) -> float:
  """Wall-clock seconds of one AdamW run of ``task_name`` (compilation excluded); with
  ``measure_steps``, timed over at most that many steps and scaled to the task's steps."""
  full = proxy_tasks.get(task_name, seed=0, **overrides)
  steps = full.config.steps
  if measure_steps is not None and measure_steps < steps:
    task = proxy_tasks.get(task_name, seed=0, steps=measure_steps, **overrides)
  else:
    task = full
  evaluator = proxy_tasks.Evaluator(task, slots=1, normalize=False)
  adamw = dsl.library.load("adamw")
  evaluator.evaluate([adamw])  # compile
  result = evaluator.evaluate([adamw])[0]
  return result.seconds * steps / task.config.steps


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(prog="python -m meta_validation.tasks",
                                   description="Lists the meta-validation tasks and measures "
                                   "their cost relative to their family's proxy.")
  parser.add_argument("--measure-steps", type=int, default=300,
                      help="time the larger tasks over this many steps (default 300)")
  parser.add_argument("--families", nargs="+", default=list(SCALED),
                      help=f"families to measure (default: {' '.join(SCALED)})")
  parser.add_argument("--list", action="store_true", help="only list the names")
  args = parser.parse_args(argv)
  if args.list:
    print("\n".join(names()))
    return 0
  unknown = [f for f in args.families if f not in SCALED]
  if unknown:
    print(f"--families: unknown family '{unknown[0]}'; expected one of {', '.join(SCALED)}",
          file=sys.stderr)
    return 2
  if args.measure_steps < 1:
    print(f"--measure-steps: expected a positive integer, got {args.measure_steps}",
          file=sys.stderr)
    return 2
  print(f"{'task':24s} {'steps':>6s} {'s/run':>9s} {'x proxy':>8s}")
  for family in args.families:
    base = seconds_per_run(family)
    print(f"{family:24s} {proxy_tasks.get_config(family).steps:6d} {base:9.3f} {1.0:8.1f}",
          flush=True)
    for scale in SCALES:
      name = f"{family}_{scale}"
      seconds = seconds_per_run(name, args.measure_steps)
      print(f"{name:24s} {proxy_tasks.get_config(name).steps:6d} {seconds:9.3f} "
            f"{seconds / base:8.1f}", flush=True)
  return 0


if __name__ == "__main__":
  sys.exit(main())
