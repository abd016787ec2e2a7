"""Scores batches of optimizer programs on a proxy task without recompiling per program.

The training loop, the model and the program interpreter (``proxy_tasks.interpreter``) are
compiled once per task (and per register bucket, ``encoding.REGISTER_BUCKETS``; one covers
almost every program); programs are fed as arrays (``encoding.encode``).

``slots`` runs train at once, a run being one (program, seed): the model's forward and
backward passes are ``vmap``-ed over the slots (batched matmuls: the per-op dispatch, which
dominates at this size, is paid once for all of them), and the slots' programs run back to
back as one statement sequence over disjoint register ranges, each statement one
``lax.switch`` (no ``vmap`` over programs: that would turn the switch into a select over
every function). The weights live in the register file and each program's code ends by
updating them and leaving its next states in their registers (``interpreter``), so a step
touches the file only through the statements and two block writes (gradient, ``lr``), all
in place.

Every slot has its own step counter: one queue of runs per register bucket, drained by up to
``threads`` groups of ``slots`` (each group one compiled loop at a time), keeps the slots
full, and when runs end (finished, failed, out of time) the compiled loop
returns, the host scores and records them, and the next runs are loaded into their slots in
the same compiled call that continues the others. A run that fails at step 3 thus costs 3
steps of its slot, not the whole call's 300. A run ends early when:

* ``nan``: the training loss is NaN or infinite (or the final metric is);
* ``diverged``: the loss exceeds ``loss0 + (divergence_factor - 1) * max(|loss0|, 1)``,
  ``loss0`` the first step's loss;
* ``early_stopped`` (hopeless; the paper and AutoML-Zero cut such runs): at step
  ``round(early_stop_fraction * steps)`` the loss averaged exponentially (``0.9``) is above
  ``early_stop_ratio * loss0``. Off when ``early_stop_fraction == 0``;
* ``timeout``: the run's wall-clock time since it took its slot passed ``time_budget_s``;
  checked on the host between compiled pieces of at most ``ceil(steps / chunks)`` steps;
* ``error``: the program is invalid or too long (``dsl.ProgramError``) or anything else went
  wrong with it; the message is in ``reason``. One bad program never breaks its batch.

Fitness (**higher is better**, ``-inf`` on failure)::

  metric      = mean over the task's seeds of the validation metric (lower is better;
                the task's ``metric``; proxy_tasks.tasks lists the built-in ones)
  normalized  = log(metric(reference) / metric)  # 0: as good as the reference, > 0: better
  fitness     = normalized

The reference is the task's ``fitness_reference`` (``proxy_tasks.TaskConfig``), found once
per evaluator on the same task and seeds: by default ``tuned_adamw``, the better of AdamW as
the paper writes it (no bias correction) and bias-corrected AdamW (``dsl/library/adamw_bc.py``,
``optax.adamw``), each tuned by ``proxy_tasks.tuning`` (learning rate, weight decay, betas and
schedule; ``tuning_budget`` runs each), so ``fitness > 0`` means better than AdamW tuned on
this task; ``adamw`` is the
library AdamW as the paper writes it (lr 1e-3, weight decay 0.01). With
``normalize=False``, ``fitness_reference: none``, or if every reference run fails,
``fitness = -metric``.
"""

from __future__ import annotations

import collections
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
from proxy_tasks import tuning
from proxy_tasks.protocol import TaskBase as Task

OK, NAN, DIVERGED, EARLY_STOPPED = 0, 1, 2, 3
STATUSES = ("ok", "nan", "diverged", "timeout", "early_stopped", "error")
_EMA = 0.9


@dataclasses.dataclass(frozen=True)
class Result:
  """One program's score on one task (picklable: plain floats and strings).

  ``fitness``: higher is better, ``-inf`` on failure. ``metric``: the raw validation metric
  (lower is better; NaN when the run failed). ``normalized``: ``log(metric(reference) / metric)``.
  ``status``: one of ``STATUSES``; ``reason``: why, for a failure. ``seconds``: wall time
  (each compiled call's time shared among the runs in it). ``steps``: optimizer steps run
  (summed over seeds).
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
  """The compiled pieces for one task and slot count: start, advance."""

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
    self.start = jax.jit(self._start_impl, static_argnums=(0,))
    self.advance = jax.jit(self._advance_impl, donate_argnums=(0,))

  def loss_and_grad(self, flat, data, row):
    """The minibatch loss and its gradient, flat. The gradient is taken with respect to the
    parameter tree and concatenated once: differentiating through ``unflatten`` instead sums
    one zero-padded copy per array, which XLA runs as a slow fusion (its share of the
    evaluator's time: docs/results.md, "Measured costs")."""
    params = self.layout.unflatten(flat, self.treedef)
    loss, grad = jax.value_and_grad(self.task.train_loss)(params, data, row)
    return loss, self.layout.flatten(grad)

  def _start_impl(self, registers):
    """The carry of ``slots`` empty slots; ``registers`` per slot (static).

    ``(registers [R * K, N], step [K], status [K], failed step [K], loss0, ema, loss at
    failure)``; every slot has its own step: a slot is refilled when its run ends.
    """
    n, k = self.layout.size, self.slots
    zeros = jnp.zeros((k,), jnp.float32)
    return (jnp.zeros((k * registers, n), jnp.float32), jnp.zeros((k,), jnp.int32),
            jnp.zeros((k,), jnp.int32), jnp.full((k,), -1, jnp.int32), zeros, zeros, zeros)

  def _load(self, carry, fresh, seed_params, seed_index, constant_rows, constant_values):
    """Starts a new run in every slot where ``fresh``: its states zero, its weights the
    seed's initial parameters, its constants written once (every other register is written
    in a step before it is read)."""
    file, t, status, failed, loss0, ema, failed_loss = carry
    k = self.slots
    first, count = interp.STATE_REGISTERS[0] * k, len(interp.STATE_REGISTERS) * k
    states = lax.dynamic_slice_in_dim(file, first, count, 0)
    states = jnp.where(jnp.tile(fresh, len(interp.STATE_REGISTERS))[:, None], 0.0, states)
    file = lax.dynamic_update_slice_in_dim(file, states, first, 0)
    weights = file[interp.W_REGISTER * k:(interp.W_REGISTER + 1) * k]
    file = lax.dynamic_update_slice_in_dim(
        file, jnp.where(fresh[:, None], seed_params[seed_index], weights),
        interp.W_REGISTER * k, 0)
    # One row write per constant, the first `written` entries (the rest are padding): a
    # scatter of all `registers * K` entries broadcast to rows cost ~0.4 ms per call.
    written = jnp.sum(constant_rows >= 0)
    n = file.shape[1]
    file = lax.fori_loop(0, written, lambda i, f: lax.dynamic_update_index_in_dim(
        f, jnp.full((n,), constant_values[i], jnp.float32), constant_rows[i], 0), file)
    reset = lambda value, x: jnp.where(fresh, value, x)
    return (file, reset(0, t), reset(OK, status), reset(-1, failed), reset(0.0, loss0),
            reset(0.0, ema), reset(0.0, failed_loss))

  def _advance_impl(self, carry, fresh, seed_params, constant_rows, constant_values, active,
                    code, length, seed_index, data, plans, schedule, total, max_steps,
                    stop_on_end):
    """Loads the ``fresh`` slots' runs, then steps every live run (``active``, status ok,
    fewer than ``total`` steps) at most ``max_steps`` times; with ``stop_on_end``, returns as
    soon as an active run ends (so its slot can be refilled). Returns the carry and, if a
    run has finished its steps, every slot's validation metric (else zeros)."""
    config = self.task.config
    k = self.slots
    carry = self._load(carry, fresh, seed_params, seed_index, constant_rows, constant_values)
    data_all = data
    if self.shared_data:
      data_axes = None
    else:
      data = jax.tree.map(lambda d: d[seed_index], data)
      data_axes = 0
    loss_and_grad = jax.vmap(self.loss_and_grad, in_axes=(0, data_axes, 0))

    def live(carry):
      return active & (carry[2] == OK) & (carry[1] < total)

    def running(state):
      i, carry = state
      alive = live(carry)
      return (i < max_steps) & jnp.any(alive) & ~(stop_on_end & jnp.any(active & ~alive))

    def step(state):
      i, (file, t, status, failed, loss0, ema, failed_loss) = state
      alive = active & (status == OK) & (t < total)
      index = jnp.minimum(t, total - 1)
      params = file[interp.W_REGISTER * k:(interp.W_REGISTER + 1) * k]
      loss, grad = loss_and_grad(params, data, plans[seed_index, index])
      loss0 = jnp.where(alive & (t == 0), loss, loss0)
      ema = jnp.where(alive, jnp.where(t == 0, loss, _EMA * ema + (1 - _EMA) * loss), ema)
      limit = loss0 + (config.divergence_factor - 1) * jnp.maximum(jnp.abs(loss0), 1.0)
      verdict = jnp.where(~jnp.isfinite(loss), NAN,
                          jnp.where(loss > limit, DIVERGED,
                                    jnp.where((t == self.early_stop_step)
                                              & (ema > config.early_stop_ratio * loss0),
                                              EARLY_STOPPED, OK)))
      newly = alive & (verdict != OK)
      failed = jnp.where(newly, t, failed)
      status = jnp.where(newly, verdict, status)
      # Register r of slot s is row r * K + s: the weights, gradients and schedule values of
      # all slots are one contiguous block each (static, in-place updates). The code itself
      # leaves the next states in their registers and subtracts the update from the weights
      # (encoding.encode): no gather, no scatter, nothing else touches the file.
      file = lax.dynamic_update_slice_in_dim(file, grad, interp.G_REGISTER * k, 0)
      file = lax.dynamic_update_slice_in_dim(
          file, jnp.broadcast_to(schedule[index][:, None], params.shape),
          interp.LR_REGISTER * k, 0)
      file = interp.run_statements(file, code, length, self.branches, alive & ~newly)
      failed_loss = jnp.where(newly, loss, failed_loss)
      t = jnp.where(alive & ~newly, t + 1, t)
      return i + 1, (file, t, status, failed, loss0, ema, failed_loss)

    carry = lax.while_loop(running, step, (jnp.zeros((), jnp.int32), carry))[1]
    finished = jnp.any(active & (carry[2] == OK) & (carry[1] >= total))
    metrics = lax.cond(finished, lambda: self._metrics(carry, seed_index, data_all),
                       lambda: jnp.zeros((k,), jnp.float32))
    return carry, metrics

  def _metrics(self, carry, seed_index, data):
    params = carry[0][interp.W_REGISTER * self.slots:(interp.W_REGISTER + 1) * self.slots]
    if self.shared_data:
      metric = lambda flat: self.task.metric(self.layout.unflatten(flat, self.treedef), data)
      return jax.vmap(metric)(params)
    data = jax.tree.map(lambda d: d[seed_index], data)
    metric = lambda flat, d: self.task.metric(self.layout.unflatten(flat, self.treedef), d)
    return jax.vmap(metric)(params, data)


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
    task: any task (``proxy_tasks.protocol``; ``proxy_tasks.resolve(name, **overrides)``).
    slots: runs (program, seed) trained together. Throughput needs batches of at least
      ``slots * threads`` runs per ``evaluate`` call.
    threads: groups of ``slots`` runs trained at once, each in its own thread (XLA releases
      the GIL while it runs), all taking runs from the same queue.
    normalize: find the task's fitness reference once (``reference``) and report
      ``normalized``/``fitness`` against it.
  """

  def __init__(self, task: Task, slots: int = 8, threads: int = 1, normalize: bool = True):
    self.task = task
    self.slots = max(1, int(slots))
    self.threads = max(1, int(threads))
    self.normalize = normalize
    self._run: _Run | None = None
    self._compiled: set[int] = set()
    self._reference: tuple[Program | None, float] | None = None
    self.reference_tuning: tuning.Tuned | None = None  # how tuned AdamW was found

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
    self._run_group(collections.deque([(None, sgd, 0)]), registers, steps=1)
    self._compiled.add(registers)

  @property
  def reference(self) -> tuple[Program | None, float]:
    """``(program, metric)`` that fitness is normalised against, found once on this task:
    the task's ``fitness_reference`` (``(None, nan)`` for ``none`` or ``normalize=False``)."""
    if self._reference is None:
      kind = self.task.config.fitness_reference if self.normalize else "none"
      self._reference = (None, math.nan)
      if kind == "tuned_adamw":  # the better of AdamW as the paper writes it and bias-corrected
        both = tuning.tune({name: tuning.library_space(name) for name in tuning.ADAMWS},
                           self.metrics, self.task.config.tuning_budget)
        tuned = both[tuning.better_adamw({k: t.best_metric for k, t in both.items()})]
        self.reference_tuning = tuned
        if not tuned.failed:
          self._reference = (tuned.program, tuned.best_metric)
      elif kind == "adamw":
        adamw = dsl.library.load("adamw")
        metric, = self.metrics([adamw])
        if math.isfinite(metric):
          self._reference = (adamw, metric)
    return self._reference

  @property
  def reference_metric(self) -> float:
    """The reference's validation metric on this task (NaN: no reference)."""
    return self.reference[1]

  # Scoring.
  def metrics(self, programs: Sequence[Program]) -> list[float]:
    """The raw validation metric of each program (NaN for a failed run), not normalised."""
    return [r.metric if r.ok else math.nan for r in self._evaluate(list(programs), None)]

  def evaluate(self, programs: Sequence[Program]) -> list[Result]:
    """One ``Result`` per program, in order."""
    return self._evaluate(list(programs), self.reference_metric)

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
    # Runs grouped by register bucket into one queue each, which up to `threads` groups of
    # `slots` drain together: a group refills a slot as soon as its run ends, and whichever
    # group has a free slot takes the next run (no group runs out of work while another has
    # a backlog, as with a fixed split).
    by_bucket: dict[int, collections.deque] = {}
    for index, enc in encoded.items():
      for seed_index in range(len(seeds)):
        by_bucket.setdefault(encoding.register_bucket(enc.registers), collections.deque()
                             ).append(((index, seed_index), enc, seed_index))
    calls = []
    for registers, runs in sorted(by_bucket.items()):
      self._warm(registers)
      groups = min(self.threads, -(-len(runs) // self.slots))
      calls += [(registers, runs)] * groups

    def do_call(call):
      registers, runs = call
      return self._run_group(runs, registers)

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

  def _run_group(self, runs: collections.deque, registers: int, steps: int | None = None
                 ) -> list[tuple[object, _Outcome]]:
    """Trains runs ``(key, encoded program, seed index)`` taken from the left of ``runs``
    (which other threads may be draining too), ``slots`` at a time: whenever runs end
    (finished, failed or out of time) the next ones take their slots, so a run that fails
    early stops costing its slot. Returns ``(key, outcome)`` per run it took."""
    run = self._ensure()
    k = self.slots
    total = run.steps if steps is None else steps
    chunks = max(1, min(self.task.config.chunks, total))
    max_steps = np.int32(-(-total // chunks))  # the time budget is checked in between
    budget = self.task.config.time_budget_s
    outcomes: list[tuple[object, _Outcome]] = []
    occupant: list[tuple[object, encoding.Encoded] | None] = [None] * k  # each slot's run
    started = np.zeros((k,), np.float64)
    seconds = np.zeros((k,), np.float64)
    seed_index = np.zeros((k,), np.int32)
    carry = run.start(registers)
    code = length = None
    while True:
      fresh = np.zeros((k,), bool)
      constant_rows, constant_values = [], []
      for slot in range(k):
        if occupant[slot] is None:
          try:
            key, enc, seed = runs.popleft()  # atomic: another thread may take the last one
          except IndexError:
            break
          occupant[slot], seed_index[slot], fresh[slot] = (key, enc), seed, True
          code = None  # the slot's rows change
          started[slot], seconds[slot] = time.perf_counter(), 0.0
          # Register r of slot s is row r * k + s of the register file (see _advance_impl).
          for register, value in enc.constants:
            constant_rows.append(register * k + slot)
            constant_values.append(value)
      active = np.asarray([o is not None for o in occupant])
      if not active.any():
        break
      rows = np.full((k * registers,), -1, np.int32)  # -1: padding, not written
      values = np.zeros((k * registers,), np.float32)
      rows[:len(constant_rows)] = constant_rows
      values[:len(constant_values)] = constant_values
      if code is None:
        code, length = self._code([o[1] if o is not None else None for o in occupant])
      begin = time.perf_counter()
      carry, metrics = run.advance(carry, fresh, self._seed_params, rows, values, active, code,
                                   length, seed_index, self._data, self._plans, self._schedule,
                                   np.int32(total), max_steps, np.bool_(len(runs) > 0))
      t, status, failed = (np.array(x) for x in carry[1:4])
      loss0, ema, last = (np.array(x) for x in carry[4:7])
      metrics = np.array(metrics)
      now = time.perf_counter()
      seconds[active] += (now - begin) / active.sum()
      for slot in range(k):
        if occupant[slot] is None:
          continue
        outcome = _Outcome(seconds=float(seconds[slot]))
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
        elif t[slot] >= total:
          outcome.metric = float(metrics[slot])
          if not math.isfinite(outcome.metric):
            outcome.status = "nan"
            outcome.reason = f"validation metric is {outcome.metric} after training"
        elif now - started[slot] > budget:
          outcome.status = "timeout"
          outcome.reason = (f"{now - started[slot]:.3g} s > time budget {budget:.3g} s; "
                            f"stopped after step {t[slot]}")
        else:
          continue  # still running
        outcome.steps = int(failed[slot]) + 1 if code_status != OK else int(t[slot])
        outcomes.append((occupant[slot][0], outcome))
        occupant[slot] = None
        code = None  # its rows stop running
    return outcomes

  def _code(self, programs: list[encoding.Encoded | None]) -> tuple[np.ndarray, np.int32]:
    """The slots' programs as one sequence of rows ``(branch, arg0, arg1, arg2, target,
    slot)`` over the register file, and its length."""
    k = self.slots
    code_rows = []
    for slot, enc in enumerate(programs):
      if enc is None:
        continue
      rows = enc.code.copy()
      rows[:, 1:5] = rows[:, 1:5] * k + slot
      code_rows.append(np.concatenate([rows, np.full((len(rows), 1), slot, np.int32)], 1))
    code = np.zeros((k * encoding.MAX_ROWS, 6), np.int32)  # rows past `length` never run
    length = sum(len(r) for r in code_rows)
    if code_rows:
      code[:length] = np.concatenate(code_rows)
    return code, np.int32(length)
