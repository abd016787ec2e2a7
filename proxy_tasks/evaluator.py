"""Scores batches of optimizer programs on a proxy task without recompiling per program.

The training loop, the model and the program interpreter (``proxy_tasks.interpreter``) are
compiled once per task (and per register bucket, ``encoding.REGISTER_BUCKETS``; one covers
almost every program); programs are fed as arrays (``encoding.encode``).

One compiled call trains ``slots`` runs at once, a run being one (program, seed): the model's
forward and backward passes are ``vmap``-ed over the slots (batched matmuls: the per-op
dispatch, which dominates at this size, is paid once for all of them), and the slots'
programs run back to back as one statement sequence over disjoint register ranges, each
statement one ``lax.switch`` (no ``vmap`` over programs: that would turn the switch into a
select over every function). The step loop is a ``lax.while_loop`` that ends when every run
in the call has ended. A run ends early when:

* ``nan``: the training loss is NaN or infinite (or the final metric is);
* ``diverged``: the loss exceeds ``loss0 + (divergence_factor - 1) * max(|loss0|, 1)``,
  ``loss0`` the first step's loss;
* ``early_stopped`` (hopeless; the paper and AutoML-Zero cut such runs): at step
  ``round(early_stop_fraction * steps)`` the loss averaged exponentially (``0.9``) is above
  ``early_stop_ratio * loss0``. Off when ``early_stop_fraction == 0``;
* ``timeout``: the program's wall-clock time over its seeds passed ``time_budget_s``; checked
  on the host between the ``chunks`` compiled pieces of the loop;
* ``error``: the program is invalid or too long (``dsl.ProgramError``) or anything else went
  wrong with it; the message is in ``reason``. One bad program never breaks its batch.

Fitness (**higher is better**, ``-inf`` on failure)::

  metric      = mean over the task's seeds of the validation metric (lower is better;
                proxy_tasks.tasks documents it per model)
  normalized  = log(metric(AdamW) / metric)  # 0: as good as the warm start, > 0: better
  fitness     = normalized

``metric(AdamW)`` is the warm start ``dsl.library.load("adamw")`` scored once per evaluator on
the same task. With ``normalize=False`` (or if AdamW itself fails) ``fitness = -metric``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import math
import time
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

import dsl
from dsl.program import Program
from proxy_tasks import encoding
from proxy_tasks import interpreter as interp
from proxy_tasks.tasks import Task

OK, NAN, DIVERGED, EARLY_STOPPED = 0, 1, 2, 3
_STATUS_NAMES = {OK: "ok", NAN: "nan", DIVERGED: "diverged", EARLY_STOPPED: "early_stopped"}
STATUSES = ("ok", "nan", "diverged", "timeout", "early_stopped", "error")
_EMA = 0.9


@dataclasses.dataclass(frozen=True)
class Result:
  """One program's score on one task (picklable: plain floats and strings).

  ``fitness``: higher is better, ``-inf`` on failure. ``metric``: the raw validation metric
  (lower is better; NaN when the run failed). ``normalized``: ``log(metric(AdamW) / metric)``.
  ``status``: one of ``STATUSES``; ``reason``: why, for a failure. ``seconds``: wall time.
  ``steps``: optimizer steps run (summed over seeds).
  """
  fitness: float
  metric: float
  normalized: float
  status: str
  reason: str = ""
  seconds: float = 0.0
  steps: int = 0

  @property
  def ok(self) -> bool:
    return self.status == "ok"


def failure(status: str, reason: str, seconds: float = 0.0, steps: int = 0) -> Result:
  return Result(-math.inf, math.nan, -math.inf, status, reason, seconds, steps)


class _Run:
  """The compiled pieces for one task and slot count: start, advance, finish."""

  def __init__(self, task: Task, slots: int):
    self.task = task
    self.slots = slots
    config = task.config
    params0 = task.init_params(config.seeds[0])
    self.treedef = jax.tree.structure(params0)
    self.layout = interp.Layout.of(params0)
    self.branches = interp.make_branches(self.layout)
    self.steps = config.steps
    self.shared_data = task.shared_data
    self.early_stop_step = (int(round(config.early_stop_fraction * config.steps))
                            if config.early_stop_fraction > 0 else -1)
    self.start = jax.jit(self._start_impl, static_argnums=(4,))
    self.advance = jax.jit(self._advance_impl)
    self.finish = jax.jit(self._finish_impl)

  def flat_loss(self, flat, data, row):
    return self.task.train_loss(self.layout.unflatten(flat, self.treedef), data, row)

  def _start_impl(self, seed_params, seed_index, constant_rows, constant_values, registers):
    """The carry of ``slots`` fresh runs; ``registers`` per slot (static)."""
    n, k = self.layout.size, self.slots
    file = jnp.zeros((k * registers, n), jnp.float32)
    file = file.at[constant_rows].set(
        jnp.broadcast_to(constant_values[:, None], (constant_values.shape[0], n)))
    zeros = jnp.zeros((k,), jnp.float32)
    # (step, params [K, N], registers [R * K, N], status [K], failed step [K], loss0, ema,
    #  loss at failure)
    return (jnp.zeros((), jnp.int32), seed_params[seed_index], file,
            jnp.zeros((k,), jnp.int32), jnp.full((k,), -1, jnp.int32), zeros, zeros, zeros)

  def _advance_impl(self, carry, active, code, length, update_rows, state_rows, seed_index,
                    data, plans, schedule, t_end):
    config = self.task.config
    k = self.slots
    if self.shared_data:
      data_axes = None
    else:
      data = jax.tree.map(lambda d: d[seed_index], data)
      data_axes = 0
    loss_and_grad = jax.vmap(jax.value_and_grad(self.flat_loss), in_axes=(0, data_axes, 0))

    def running(carry):
      return (carry[0] < t_end) & jnp.any(active & (carry[3] == OK))

    def step(carry):
      t, params, file, status, failed, loss0, ema, failed_loss = carry
      loss, grad = loss_and_grad(params, data, plans[seed_index, t])
      loss0 = jnp.where(t == 0, loss, loss0)
      ema = jnp.where(t == 0, loss, _EMA * ema + (1 - _EMA) * loss)
      limit = loss0 + (config.divergence_factor - 1) * jnp.maximum(jnp.abs(loss0), 1.0)
      verdict = jnp.where(~jnp.isfinite(loss), NAN,
                          jnp.where(loss > limit, DIVERGED,
                                    jnp.where((t == self.early_stop_step)
                                              & (ema > config.early_stop_ratio * loss0),
                                              EARLY_STOPPED, OK)))
      newly = (status == OK) & (verdict != OK)
      failed = jnp.where(newly, t, failed)
      status = jnp.where(status == OK, verdict, status)
      # Register r of slot s is row r * K + s: the weights, gradients and schedule values of
      # all slots are one contiguous block each (static, in-place updates).
      file = lax.dynamic_update_slice_in_dim(file, params, interp.W_REGISTER * k, 0)
      file = lax.dynamic_update_slice_in_dim(file, grad, interp.G_REGISTER * k, 0)
      file = lax.dynamic_update_slice_in_dim(
          file, jnp.broadcast_to(schedule[t], params.shape), interp.LR_REGISTER * k, 0)
      file = interp.run_statements(file, code, length, self.branches, active & (status == OK))
      params = params - file[update_rows]
      file = lax.dynamic_update_slice_in_dim(file, file[state_rows.T.reshape(-1)],
                                             interp.STATE_REGISTERS[0] * k, 0)
      failed_loss = jnp.where(newly, loss, failed_loss)
      return (t + 1, params, file, status, failed, loss0, ema, failed_loss)

    return lax.while_loop(running, step, carry)

  def _finish_impl(self, carry, seed_index, data):
    if self.shared_data:
      metric = lambda flat: self.task.metric(self.layout.unflatten(flat, self.treedef), data)
      return jax.vmap(metric)(carry[1])
    data = jax.tree.map(lambda d: d[seed_index], data)
    metric = lambda flat, d: self.task.metric(self.layout.unflatten(flat, self.treedef), d)
    return jax.vmap(metric)(carry[1], data)


@dataclasses.dataclass
class _Outcome:
  """What one run (program, seed) ended with."""
  status: str = "ok"
  reason: str = ""
  steps: int = 0
  metric: float = math.nan
  seconds: float = 0.0


class Evaluator:
  """Scores programs on ``task``; compiles lazily, once (per register bucket).

  Args:
    task: a ``proxy_tasks.Task`` (``proxy_tasks.get(name, **overrides)``).
    slots: runs (program, seed) trained together in one compiled call. Throughput needs
      batches of at least this many programs per ``evaluate`` call.
    threads: calls in flight at once (XLA releases the GIL while it runs).
    normalize: score AdamW once and report ``normalized``/``fitness`` against it.
  """

  def __init__(self, task: Task, slots: int = 8, threads: int = 1, normalize: bool = True):
    self.task = task
    self.slots = max(1, int(slots))
    self.threads = max(1, int(threads))
    self.normalize = normalize
    self._run: _Run | None = None
    self._compiled: set[int] = set()
    self._adamw_metric: float | None = None

  # Setup, lazily.
  def _ensure(self) -> _Run:
    if self._run is None:
      run = _Run(self.task, self.slots)
      seeds = self.task.config.seeds
      self._seed_params = jnp.stack([run.layout.flatten(self.task.init_params(s))
                                     for s in seeds])
      self._plans = jnp.asarray(np.stack([self.task.plan(s) for s in seeds]))
      if self.task.shared_data:
        self._data = self.task.data(seeds[0])
      else:
        self._data = jax.tree.map(lambda *xs: jnp.stack(xs), *[self.task.data(s) for s in seeds])
      self._schedule = jnp.asarray(self.task.schedule())
      self._run = run
    return self._run

  def _warm(self, registers: int) -> None:
    """Compiles for ``registers`` per slot (not counted in any program's time)."""
    if registers in self._compiled:
      return
    sgd = encoding.encode(dsl.library.load("sgd"))
    self._run_group([(sgd, 0)], registers, steps=1)
    self._compiled.add(registers)

  @property
  def adamw_metric(self) -> float:
    """The warm start's validation metric on this task (scored once)."""
    if self._adamw_metric is None:
      result = self._evaluate([dsl.library.load("adamw")], normalized_by=None)[0]
      self._adamw_metric = result.metric if result.ok else math.nan
    return self._adamw_metric

  # Scoring.
  def evaluate(self, programs: Sequence[Program]) -> list[Result]:
    """One ``Result`` per program, in order."""
    reference = self.adamw_metric if self.normalize else None
    return self._evaluate(list(programs), reference)

  def _evaluate(self, programs: list[Program], normalized_by: float | None) -> list[Result]:
    self._ensure()
    seeds = self.task.config.seeds
    encoded: dict[int, encoding.Encoded] = {}
    errors: dict[int, str] = {}
    for index, program in enumerate(programs):
      try:
        encoded[index] = encoding.encode(program)
      except Exception as error:  # pylint: disable=broad-except
        errors[index] = f"{type(error).__name__}: {error}"
    # Runs grouped by register bucket, then cut into calls of `slots` runs.
    by_bucket: dict[int, list] = {}
    for index, enc in encoded.items():
      for seed_index in range(len(seeds)):
        by_bucket.setdefault(encoding.register_bucket(enc.registers), []).append(
            (index, seed_index))
    calls = []
    for registers, runs in sorted(by_bucket.items()):
      self._warm(registers)
      for start in range(0, len(runs), self.slots):
        calls.append((registers, runs[start:start + self.slots]))

    def do_call(call):
      registers, runs = call
      outcomes = self._run_group([(encoded[i], s) for i, s in runs], registers)
      return list(zip(runs, outcomes))

    if self.threads == 1 or len(calls) < 2:
      done = [do_call(c) for c in calls]
    else:
      with concurrent.futures.ThreadPoolExecutor(self.threads) as pool:
        done = list(pool.map(do_call, calls))
    per_program: dict[int, list[tuple[int, _Outcome]]] = {}
    for call in done:
      for (index, seed_index), outcome in call:
        per_program.setdefault(index, []).append((seed_index, outcome))

    results = []
    for index in range(len(programs)):
      if index in errors:
        results.append(failure("error", errors[index]))
        continue
      outcomes = sorted(per_program[index], key=lambda x: x[0])
      seconds = sum(o.seconds for _, o in outcomes)
      steps = sum(o.steps for _, o in outcomes)
      bad = [(s, o) for s, o in outcomes if o.status != "ok"]
      if bad:
        seed_index, outcome = bad[0]
        results.append(failure(outcome.status, f"seed {seeds[seed_index]}: {outcome.reason}",
                               seconds, steps))
        continue
      metric = float(np.mean([o.metric for _, o in outcomes]))
      if normalized_by is not None and math.isfinite(normalized_by) and normalized_by > 0:
        normalized = math.log(normalized_by / max(metric, 1e-30))
        results.append(Result(normalized, metric, normalized, "ok", "", seconds, steps))
      else:
        results.append(Result(-metric, metric, math.nan, "ok", "", seconds, steps))
    return results

  def _run_group(self, runs: list[tuple[encoding.Encoded, int]], registers: int,
                 steps: int | None = None) -> list[_Outcome]:
    """Trains up to ``slots`` runs ``(encoded program, seed index)`` in one sequence of calls."""
    run = self._ensure()
    k = self.slots
    start_time = time.perf_counter()
    seed_index = np.zeros((k,), np.int32)
    active = np.zeros((k,), bool)
    update_rows = np.zeros((k,), np.int32)
    state_rows = np.zeros((k, len(interp.STATE_REGISTERS)), np.int32)
    code_rows, constant_rows, constant_values = [], [], []
    # Register r of slot s is row r * k + s of the register file (see _advance_impl).
    for slot in range(k):
      state_rows[slot] = np.asarray(interp.STATE_REGISTERS) * k + slot
      update_rows[slot] = interp.SCRATCH_REGISTER * k + slot
    for slot, (enc, seed) in enumerate(runs):
      seed_index[slot], active[slot] = seed, True
      update_rows[slot] = enc.update * k + slot
      state_rows[slot] = np.asarray(enc.state_out) * k + slot
      rows = enc.code.copy()
      rows[:, 1:5] = rows[:, 1:5] * k + slot
      code_rows.append(np.concatenate([rows, np.full((len(rows), 1), slot, np.int32)], 1))
      for register, value in enc.constants:
        constant_rows.append(register * k + slot)
        constant_values.append(value)
    code = np.zeros((k * encoding.MAX_LENGTH, 6), np.int32)
    code[:, 4] = interp.SCRATCH_REGISTER * k
    length = sum(len(r) for r in code_rows)
    if code_rows:
      code[:length] = np.concatenate(code_rows)
    constants = np.full((k * registers,), interp.SCRATCH_REGISTER * k, np.int32)
    values = np.zeros((k * registers,), np.float32)
    constants[:len(constant_rows)] = constant_rows
    values[:len(constant_values)] = constant_values

    carry = run.start(self._seed_params, seed_index, constants, values, registers)
    total = run.steps if steps is None else steps
    chunks = max(1, min(self.task.config.chunks, total))
    budget = self.task.config.time_budget_s
    timed_out = False
    for chunk in range(chunks):
      t_end = np.int32(total * (chunk + 1) // chunks)
      carry = run.advance(carry, active, code, np.int32(length), update_rows, state_rows,
                          seed_index, self._data, self._plans, self._schedule, t_end)
      status = np.asarray(carry[3])
      if not np.any(active & (status == OK)):
        break
      if chunk < chunks - 1 and time.perf_counter() - start_time > budget:
        timed_out = True
        break
    status, failed = np.asarray(carry[3]), np.asarray(carry[4])
    loss0, ema, last = (np.asarray(x) for x in carry[5:8])
    step_reached = int(carry[0])
    metrics = (np.asarray(run.finish(carry, seed_index, self._data))
               if np.any(active & (status == OK)) and not timed_out else None)
    elapsed = time.perf_counter() - start_time
    outcomes = []
    for slot in range(len(runs)):
      outcome = _Outcome(seconds=elapsed / len(runs))
      code_status = int(status[slot])
      if code_status == EARLY_STOPPED:
        outcome.status = "early_stopped"
        outcome.reason = (f"hopeless at step {failed[slot]}: smoothed loss {ema[slot]:.4g} > "
                          f"{self.task.config.early_stop_ratio} x first loss {loss0[slot]:.4g}")
      elif code_status == DIVERGED:
        outcome.status = "diverged"
        outcome.reason = (f"loss {last[slot]:.4g} at step {failed[slot]} > "
                          f"{self.task.config.divergence_factor}x the first loss "
                          f"{loss0[slot]:.4g}")
      elif code_status == NAN:
        outcome.status = "nan"
        outcome.reason = f"training loss is {last[slot]} at step {failed[slot]}"
      elif timed_out:
        outcome.status = "timeout"
        outcome.reason = (f"{elapsed:.3g} s > time budget {budget:.3g} s; stopped after step "
                          f"{step_reached}")
      else:
        outcome.metric = float(metrics[slot])
        if not math.isfinite(outcome.metric):
          outcome.status = "nan"
          outcome.reason = f"validation metric is {outcome.metric} after training"
      outcome.steps = int(failed[slot]) + 1 if code_status != OK else step_reached
      outcomes.append(outcome)
    return outcomes
