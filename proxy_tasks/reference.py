"""The per-program reference: a plain jitted training loop around ``dsl.compile(program)``.

It compiles once per program (about a second), runs every step (no early exit) on the
parameter pytree, and returns the validation metric. The evaluator must agree with it on
every built-in program (tests) and is measured against it (``benchmarks/eval_throughput.py``).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

import dsl
from dsl.program import Program
from proxy_tasks.tasks import Task


def train(task: Task, program: Program, seed: int):
  """``(final params, validation metric, per-step training losses)`` of one seed."""
  step = dsl.compile(program)
  data = task.data(seed)
  params = task.init_params(seed)
  plan = jnp.asarray(task.plan(seed))
  schedule = jnp.asarray(task.schedule())

  @jax.jit
  def run(params, data, plan, schedule):
    def body(carry, inputs):
      params, states = carry
      row, lr = inputs
      loss, grad = jax.value_and_grad(task.train_loss)(params, data, row)
      update, states = step(params, grad, states, lr)
      params = jax.tree.map(lambda p, u: p - u, params, update)
      return (params, states), loss

    states = dsl.init_states(program, params)
    (params, _), losses = jax.lax.scan(body, (params, states), (plan, schedule))
    return params, task.metric(params, data), losses

  return run(params, data, plan, schedule)


def metric(task: Task, program: Program) -> float:
  """The mean over the task's seeds of the validation metric (lower is better)."""
  values = [float(train(task, program, seed)[1]) for seed in task.config.seeds]
  return sum(values) / len(values)
