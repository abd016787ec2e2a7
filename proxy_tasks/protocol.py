"""The task protocol: what a model must provide for optsearch to score optimizers on it.

A task is any object with these pieces (``TaskBase`` supplies the last three; subclass it):

=========================================  ==================================================
``config``                                 the run's settings (``Settings``, or the built-in
                                           ``proxy_tasks.TaskConfig``): ``name``, ``steps``,
                                           ``seeds``, the schedule's shape and the stop rules
``init_params(seed)``                      the initial parameters: any pytree (nested dicts,
                                           lists, tuples) of float32 arrays of any shapes
``data(seed)``                             a pytree of arrays the loss and metric read
``plan(seed)``                             ``[steps, ...]`` array: what step ``t`` trains on
                                           (row ``t``: batch indices, noise, ...)
``train_loss(params, data, plan_row)``     the scalar training loss of one step (``jax``:
                                           traced, differentiated, ``vmap``-ed over runs)
``metric(params, data)``                   the scalar validation metric, **lower is better**
``shared_data``                            whether every seed trains on the same data
                                           (``data(seed)`` is then called once)
``schedule()``                             float32 ``[steps]``: the schedule value ``lr`` of
                                           each step (``proxy_tasks.schedule``)
``metric_name``                            the metric in words, for tables (optional)
=========================================  ==================================================

Every piece is pure: the same seed gives the same numbers, so the evaluator, the per-program
reference (``proxy_tasks.reference``) and replays train on exactly the same values. A run
trains ``config.steps`` steps from ``init_params(seed)``: at step ``t`` the gradient of
``train_loss(params, data, plan(seed)[t])`` goes into the optimizer program with
``lr = schedule()[t]``; after the last step ``metric(params, data)`` is the run's score,
averaged over ``config.seeds``. A run stops early when its loss is not finite, diverges
(``divergence_factor``), is hopeless (``early_stop_fraction``, ``early_stop_ratio``) or is
out of time (``time_budget_s``, checked between ``chunks``; see ``proxy_tasks.evaluator``).

A task is named by its registry name (``mlp_digits``) or by import path,
``package.module:factory``: ``registry.resolve(name, **overrides)`` calls
``factory(**overrides)`` after taking out the overrides that are ``Settings`` fields
(``steps``, ``seeds``, ``seed``, ...), which it applies to the task's ``config`` itself, so a
funnel, a replay or a tuning run can change them on any task. ``validate`` checks a task
once before it is used and says what is wrong in one line (``TaskError``).
"""

from __future__ import annotations

import abc
import copy
import dataclasses
import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from proxy_tasks.config import FITNESS_REFERENCES, schedule

# The pieces every task has; ``TaskBase`` supplies the last three.
METHODS = ("init_params", "data", "plan", "train_loss", "metric")
PIECES = ("config",) + METHODS + ("shared_data", "schedule")


class TaskError(ValueError):
  """A task that does not follow the protocol, or fails on its own initial parameters."""


@dataclasses.dataclass(frozen=True)
class Settings:
  """How a task's runs go, whatever the model (``proxy_tasks.TaskConfig`` has the same fields
  with the same defaults, plus the built-in models' own).

  Attributes:
    name: the task's name (run folders, tables, file names).
    steps: optimizer steps (the fixed budget); ``plan(seed)`` has one row per step.
    seeds: the seeds a program is scored on; the metric is their mean.
    warmup_fraction: fraction of ``steps`` of linear warmup of the schedule value ``lr``.
    final_lr_fraction: value the cosine decay ends at, as a fraction of the peak (1).
    divergence_factor: a run whose loss exceeds ``loss0 + (factor - 1) * max(|loss0|, 1)``
      ends as ``diverged``.
    early_stop_fraction: at this fraction of the steps a run whose smoothed loss is above
      ``early_stop_ratio`` times its first loss ends as ``early_stopped`` (0: off).
    early_stop_ratio: see ``early_stop_fraction``.
    time_budget_s: wall-clock seconds per run; checked between chunks.
    chunks: compiled pieces the training loop runs in (the time budget's resolution).
    fitness_reference: ``tuned_adamw``, ``adamw`` or ``none`` (``proxy_tasks.evaluator``).
    tuning_budget: runs that tuning AdamW for the ``tuned_adamw`` reference may take
      (``proxy_tasks.tuning``).
  """
  name: str = "task"
  steps: int = 300
  seeds: tuple[int, ...] = (0,)
  warmup_fraction: float = 0.05
  final_lr_fraction: float = 0.0
  divergence_factor: float = 100.0
  early_stop_fraction: float = 0.0
  early_stop_ratio: float = 1.0
  time_budget_s: float = 60.0
  chunks: int = 1
  fitness_reference: str = "tuned_adamw"
  tuning_budget: int = 32

  def __post_init__(self):
    seeds = (self.seeds,) if isinstance(self.seeds, int) else self.seeds
    object.__setattr__(self, "seeds", tuple(int(s) for s in seeds))
    check_settings(self)


SETTINGS = tuple(f.name for f in dataclasses.fields(Settings))


def check_settings(config) -> None:
  """Raises ``ValueError`` naming the field when ``config``'s run settings are out of range."""
  name = getattr(config, "name", "?")
  if int(config.steps) < 1:
    raise ValueError(f"task '{name}': steps must be >= 1, got {config.steps}")
  if not config.seeds:
    raise ValueError(f"task '{name}': seeds must name at least one seed")
  if not 0.0 <= config.warmup_fraction < 1.0:
    raise ValueError(f"task '{name}': warmup_fraction must be in [0, 1), got "
                     f"{config.warmup_fraction}")
  if config.fitness_reference not in FITNESS_REFERENCES:
    raise ValueError(f"task '{name}': fitness_reference must be one of "
                     f"{', '.join(FITNESS_REFERENCES)}, got {config.fitness_reference!r}")
  if int(config.chunks) < 1:
    raise ValueError(f"task '{name}': chunks must be >= 1, got {config.chunks}")


class TaskBase(abc.ABC):
  """A convenient base of a task: subclass it, set ``self.config`` (a ``Settings``) and
  write the five methods. ``shared_data`` (True), ``schedule()`` and ``name`` come from here.
  """
  config: Any
  shared_data: bool = True
  metric_name: str = "validation metric"

  @property
  def name(self) -> str:
    return self.config.name

  def __repr__(self) -> str:
    return f"{type(self).__name__}({self.config!r})"

  def schedule(self) -> np.ndarray:
    return schedule(self.config)

  @abc.abstractmethod
  def init_params(self, seed: int) -> Any:
    """The initial parameters of ``seed``: a pytree of float32 arrays."""

  @abc.abstractmethod
  def data(self, seed: int) -> Any:
    """The arrays the loss and the metric read (one pytree)."""

  @abc.abstractmethod
  def plan(self, seed: int) -> np.ndarray:
    """``[steps, ...]``: what each step trains on."""

  @abc.abstractmethod
  def train_loss(self, params, data, row):
    """The scalar training loss of one step (``row``: this step's row of the plan)."""

  @abc.abstractmethod
  def metric(self, params, data):
    """The scalar validation metric; lower is better."""


def missing(task) -> list[str]:
  """The protocol's pieces ``task`` lacks (``PIECES``; methods must be callable)."""
  out = [piece for piece in PIECES if not hasattr(task, piece)]
  out += [m for m in METHODS + ("schedule",) if m not in out and not callable(getattr(task, m))]
  if "config" not in out:
    out += [f"config.{field}" for field in SETTINGS if not hasattr(task.config, field)]
  return out


def with_settings(task, **settings):
  """A copy of ``task`` whose ``config`` has ``settings`` replaced (``seed`` -> ``seeds``)."""
  if "seed" in settings:
    settings["seeds"] = (int(settings.pop("seed")),)
  if not settings:
    return task
  if "seeds" in settings:
    seeds = settings["seeds"]
    settings["seeds"] = tuple(int(s) for s in ((seeds,) if isinstance(seeds, int) else seeds))
  config = dataclasses.replace(task.config, **settings)
  check_settings(config)
  task = copy.copy(task)
  task.config = config
  return task


def validate(task, where: str = "task") -> None:
  """Checks ``task`` against the protocol on its first seed; raises ``TaskError`` with one
  line starting with ``where`` that says what is wrong.

  Checked: every piece is there; the settings are in range; ``init_params`` is a non-empty
  pytree of floating-point arrays; ``plan`` has ``steps`` rows; ``train_loss`` and ``metric``
  are scalars; the metric of the initial parameters is not NaN.
  """
  lacking = missing(task)
  if lacking:
    raise TaskError(f"{where}: {type(task).__name__} is not a task: it lacks "
                    f"{', '.join(lacking)} (see proxy_tasks.protocol; subclass "
                    "proxy_tasks.TaskBase)")
  try:
    check_settings(task.config)
  except (ValueError, TypeError) as error:
    raise TaskError(f"{where}: config: {error}") from None
  seed = task.config.seeds[0]
  params = _call(where, "init_params", task.init_params, seed)
  leaves, _ = jax.tree.flatten(params)
  if not leaves:
    raise TaskError(f"{where}: init_params({seed}) has no arrays (got {type(params).__name__})")
  paths = jax.tree_util.tree_flatten_with_path(params)[0]
  for path, leaf in paths:
    dtype = getattr(leaf, "dtype", None)
    if dtype is None or not jnp.issubdtype(dtype, jnp.floating):
      raise TaskError(f"{where}: init_params({seed}){jax.tree_util.keystr(path)} is "
                      f"{_describe(leaf)}; parameters must be float32 arrays")
    if np.size(leaf) == 0:
      raise TaskError(f"{where}: init_params({seed}){jax.tree_util.keystr(path)} has no "
                      "elements")
  data = _call(where, "data", task.data, seed)
  plan = np.asarray(_call(where, "plan", task.plan, seed))
  if plan.ndim < 1 or plan.shape[0] != task.config.steps:
    raise TaskError(f"{where}: plan({seed}) has shape {plan.shape}; it needs one row per "
                    f"step (config.steps = {task.config.steps})")
  loss = _call(where, "train_loss", task.train_loss, params, data, jnp.asarray(plan[0]))
  _scalar(where, "train_loss(params, data, plan[0])", loss)
  metric = _call(where, "metric", task.metric, params, data)
  _scalar(where, "metric(params, data)", metric)
  if math.isnan(float(metric)):
    raise TaskError(f"{where}: metric(params, data) is NaN on the initial parameters of seed "
                    f"{seed}; every program would score NaN")
  schedule_values = np.asarray(_call(where, "schedule", task.schedule))
  if schedule_values.shape != (task.config.steps,):
    raise TaskError(f"{where}: schedule() has shape {schedule_values.shape}; expected "
                    f"({task.config.steps},)")


def _call(where: str, piece: str, function, *args):
  try:
    return function(*args)
  except Exception as error:  # pylint: disable=broad-except
    message = str(error).strip().splitlines()[0] if str(error).strip() else ""
    raise TaskError(f"{where}: {piece} raised {type(error).__name__}: {message}") from None


def _scalar(where: str, what: str, value) -> None:
  shape = getattr(value, "shape", None)
  if isinstance(value, (int, float)) and not isinstance(value, bool):
    return
  if shape != () or not jnp.issubdtype(getattr(value, "dtype", np.int8), jnp.floating):
    raise TaskError(f"{where}: {what} is {_describe(value)}; it must be a scalar float "
                    "(e.g. reduce with jnp.mean)")


def _describe(value) -> str:
  shape, dtype = getattr(value, "shape", None), getattr(value, "dtype", None)
  if shape is not None and dtype is not None:
    return f"an array of shape {tuple(shape)} and dtype {dtype}"
  return f"a {type(value).__name__}"
