"""The found optimizer as a plain optax optimizer, training your own model.

  python train_with_optax.py runs/diabetes/programs/best.py [--steps 600]

The program file is parsed (never executed) and exported with ``dsl.to_optax``; the loop
below is ordinary JAX + optax on the model of ``diabetes_task.py`` (its larger member,
``make_task_10x``), with ``optax.adamw`` alongside for comparison. The program's constants
hold its peak learning rate, so it gets a schedule peaking at 1 (warmup then cosine, as in
the search); AdamW gets the same schedule times its learning rate.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys

import jax
import optax

import dsl
import diabetes_task


def train(optimizer: optax.GradientTransformation, steps: int, seed: int = 0) -> float:
  """Trains the task's model with ``optimizer``; returns the validation metric."""
  task = diabetes_task.make_task_10x()
  task.config = dataclasses.replace(task.config, steps=steps)
  params, data, plan = task.init_params(seed), task.data(seed), task.plan(seed)
  state = optimizer.init(params)

  @jax.jit
  def step(params, state, row):
    grads = jax.grad(task.train_loss)(params, data, row)
    updates, state = optimizer.update(grads, state, params)
    return optax.apply_updates(params, updates), state

  for row in plan:
    params, state = step(params, state, row)
  return float(task.metric(params, data))


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("program", help="a program file (e.g. runs/diabetes/programs/best.py)")
  parser.add_argument("--steps", type=int, default=600)
  parser.add_argument("--adamw-lr", type=float, default=1e-2)
  args = parser.parse_args(argv)
  try:
    program = dsl.parse_file(args.program)
  except (dsl.ProgramError, OSError) as error:
    print(f"error: {error}", file=sys.stderr)
    return 2
  schedule = optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=1.0, warmup_steps=max(1, args.steps // 20),
      decay_steps=args.steps)
  found = dsl.to_optax(program, schedule)
  adamw = optax.adamw(lambda count: args.adamw_lr * schedule(count), weight_decay=0.01)
  for name, optimizer in ((args.program, found), (f"optax.adamw(lr={args.adamw_lr:g})", adamw)):
    print(f"{name}: validation MSE {train(optimizer, args.steps):.4f} after {args.steps} steps")
  return 0


if __name__ == "__main__":
  sys.exit(main())
