"""Tuning: one procedure and one rule for the best point, used by everything that tunes.

The fitness reference of a proxy task (``Evaluator.reference``: tuned AdamW), the warm start
of a search (``tune_initial``), the baselines CLI, the funnel's stages and replay all call
``tune``. A comparison is only as fair as its tuning: every optimizer in one ``tune`` call
gets the same procedure and the same budget of runs, and the report says how many each got.

**Search spaces are data.** ``AXES`` holds one axis per hyperparameter (``dsl.hyperparameters``
says where each lives in a program): a ladder of values evenly spaced on the axis' scale and
hard limits. A program's space is every axis it has (``space``): AdamW and Lion get learning
rate, weight decay, ``beta1``, ``beta2`` (on a ``log(1 - beta)`` scale) and the schedule; a
program under test gets the same axes where it has the constants (its learning rate always:
a program without a learning-rate constant is scaled by one). ``spaces`` in a config (or
``--space``) narrows an optimizer to some axes; ``Axis`` ladders can be overridden.

**The procedure** (``_procedure``), the same for every optimizer:

1. *Coarse sweep*, each axis in turn (learning rate first) over its ladder, the others at
   the best point so far (at the start: the program's own constants, which are added to
   their ladders). **No optimum on an edge:** when the best value is the ladder's first or
   last, the axis is extended one step further, again and again, until the best is interior
   or the axis' hard limit is reached (``Tuned.at_limit`` flags it; the report says so). A
   learning-rate sweep where every run fails is extended downwards the same way.
2. *Refinement* until the budget is spent: for each axis the two points half a step either
   side of the best, then a quarter step, and so on (a pattern search); the schedule is
   tried again whenever another axis moved.

Step 1 always runs to the end (it may exceed a small budget: the report shows the count);
step 2 stops at the budget or when nothing new is left at 1/64 of a step.

**The best point** is the lowest finite validation metric, ties to the earlier run
(``best_index``). Failed runs (NaN metric) never win.

**The schedule.** A program that never reads ``lr`` escapes the warmup + cosine schedule
the others are held to, and on short runs a constant step can win outright. Every space
therefore has a ``schedule`` axis (``warmup_cosine``, ``constant``): baselines and programs
alike may drop the schedule, so ignoring ``lr`` is no advantage.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable, Iterator, Sequence

from dsl import hyperparameters
from dsl.files import json_float
from dsl.program import Program

LOG, LOG1M, CATEGORICAL = "log", "log1m", "categorical"
DEFAULT_BUDGET = 32
# What a found program is compared with (funnel, replay). AdamW comes twice: as the paper writes
# it (no bias correction) and bias-corrected (optax.adamw); a program must beat the better.
ADAMWS = ("adamw", "adamw_bc")
BASELINES = (*ADAMWS, "lion")
_FINEST = 64  # refinement stops below 1/_FINEST of an axis' ladder step


class SpaceError(ValueError):
  """A search space that cannot be built (unknown optimizer or axis, empty ladder)."""


@dataclasses.dataclass(frozen=True)
class Axis:
  """One hyperparameter's values: ``ladder`` (evenly spaced on ``scale``: ``log`` is
  ``log10 x``, ``log1m`` is ``log10(1 - x)``, ``categorical`` has no order), hard ``limits``
  ``(low, high)`` for the edge extension, and whether ``0`` is also tried (weight decay)."""
  name: str
  ladder: tuple
  scale: str = LOG
  limits: tuple[float, float] | None = None
  zero: bool = False

  def __post_init__(self):
    if not self.ladder:
      raise SpaceError(f"axis '{self.name}': empty ladder")
    if self.scale != CATEGORICAL:
      object.__setattr__(self, "ladder", tuple(sorted(float(v) for v in self.ladder)))
      for value in self.ladder:
        if not self.valid(value):
          raise SpaceError(f"axis '{self.name}': value {value:g} is outside its {self.scale} "
                           f"scale or its limits {self.limits}")

  def valid(self, value: float) -> bool:
    if self.scale == LOG and not value > 0:
      return False
    if self.scale == LOG1M and not 0 <= value < 1:
      return False
    return self.limits is None or self.limits[0] <= value <= self.limits[1]

  def to_u(self, value: float) -> float:
    return math.log10(value) if self.scale == LOG else math.log10(1.0 - value)

  def from_u(self, u: float) -> float:
    """The value at ``u``, with ``u`` snapped to the finest refinement grid of the ladder (so
    that values reached by different paths are equal and print short)."""
    origin, fine = self.to_u(self.ladder[0]), self.step / _FINEST
    u = origin + round((u - origin) / fine) * fine
    x = float(f"{10.0 ** u:.4g}")
    return x if self.scale == LOG else float(f"{1.0 - x:.6g}")

  @property
  def step(self) -> float:
    """The ladder's spacing on its scale (one decade for a one-value ladder)."""
    if self.scale == CATEGORICAL or len(self.ladder) < 2:
      return 1.0
    us = sorted(self.to_u(v) for v in self.ladder)
    return abs(us[-1] - us[0]) / (len(us) - 1)

  def clip(self, u: float) -> float:
    """``u`` moved inside the limits."""
    if self.limits is None:
      return u
    bounds = sorted(self.to_u(v) for v in self.limits)
    return min(max(u, bounds[0]), bounds[-1])


# The defaults, wide enough for what our searches and the literature use (Lion's learning rate
# 3-10x below AdamW's and its weight decay 3-10x above; short runs favour beta1 ~0.8 and
# beta2 ~0.6-0.95): learning rate in decades, extended to [1e-8, 10]; weight decay 0 or in
# decades; beta1 in half-decades of 1 - beta1 (0.68, 0.9, 0.968), beta2 in decades of
# 1 - beta2 (0.9, 0.99, 0.999), both down to 0 and up to 0.9999.
AXES: dict[str, Axis] = {
    "lr": Axis("lr", (1e-4, 1e-3, 1e-2, 1e-1), LOG, (1e-8, 10.0)),
    "wd": Axis("wd", (1e-3, 1e-2, 1e-1, 1.0), LOG, (1e-6, 10.0), zero=True),
    "beta1": Axis("beta1", (0.6838, 0.9, 0.9684), LOG1M, (0.0, 0.9999)),
    "beta2": Axis("beta2", (0.9, 0.99, 0.999), LOG1M, (0.0, 0.9999)),
    "schedule": Axis("schedule", hyperparameters.SCHEDULES, CATEGORICAL),
}


@dataclasses.dataclass(frozen=True)
class Space:
  """What to tune: a program and the axes it is tuned over (learning rate first)."""
  program: Program
  axes: tuple[Axis, ...]

  def start(self) -> dict:
    """The program's own values (its learning rate, or 1 without one; the task's schedule)."""
    own = hyperparameters.values(self.program)
    return {axis.name: own.get(axis.name, "warmup_cosine") for axis in self.axes}

  def apply(self, point: dict) -> Program:
    return hyperparameters.with_hyperparameters(self.program, **point)


def space(program: Program, names: Sequence[str] | None = None,
          axes: dict[str, Axis] | None = None, label: str = "program") -> Space:
  """The space of ``program``: ``names`` (default: every axis of ``axes`` the program has; a
  momentum constant outside ``[0, 1)`` is not a beta and is left alone)."""
  axes = AXES if axes is None else axes
  own = hyperparameters.values(program)
  has = [name for name in axes  # ``values`` always holds lr and schedule
         if name in own and (axes[name].scale != LOG1M or 0 <= own[name] < 1)]
  if names is None:
    names = has
  for name in names:
    if name not in axes:
      raise SpaceError(f"{label}: unknown axis '{name}'; expected one of {', '.join(axes)}")
    if name not in has:
      raise SpaceError(f"{label}: the program has no {name} to tune (it has: {', '.join(has)})")
  ordered = sorted(dict.fromkeys(names), key=list(axes).index)
  return Space(program, tuple(axes[name] for name in ordered))


def parse_narrowed(texts: Sequence[str]) -> dict[str, list[str]]:
  """``["adamw:lr,wd", ...]`` (the CLIs' ``--space``) as ``{"adamw": ["lr", "wd"]}``; the
  names and axes are checked when the spaces are built (``space``, ``library_space``)."""
  narrowed = {}
  for text in texts:
    name, _, axes = text.partition(":")
    if not name or not axes:
      raise SpaceError(f"--space {text}: expected NAME:AXIS[,AXIS...], e.g. adamw:lr,wd")
    narrowed[name] = [a for a in axes.split(",") if a]
  return narrowed


def library_space(optimizer: str, names: Sequence[str] | None = None,
                  axes: dict[str, Axis] | None = None) -> Space:
  """The space of a built-in program (``dsl.library``) by name."""
  import dsl  # pylint: disable=import-outside-toplevel
  if optimizer not in dsl.library.names():
    raise SpaceError(f"unknown optimizer '{optimizer}'; expected one of "
                     f"{', '.join(dsl.library.names())}")
  return space(dsl.library.load(optimizer), names, axes, label=optimizer)


def best_index(metrics: Sequence[float]) -> int | None:
  """The one rule for the best point: the lowest finite metric, ties to the earliest."""
  best = None
  for index, metric in enumerate(metrics):
    if math.isfinite(metric) and (best is None or metric < metrics[best]):
      best = index
  return best


@dataclasses.dataclass(frozen=True)
class Tuned:
  """One optimizer's tuning: its best point, the program at it, every run in order."""
  label: str
  best: dict
  best_metric: float
  program: Program
  runs: int
  budget: int
  at_limit: tuple[str, ...]
  trials: tuple[tuple[dict, float], ...]

  @property
  def failed(self) -> bool:
    return not math.isfinite(self.best_metric)

  def describe(self) -> str:
    """``lr=0.003, wd=0.1, ...``."""
    return ", ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}"
                     for k, v in self.best.items())

  def to_json(self) -> dict:
    return {"best": self.best, "best_metric": json_float(self.best_metric),
            "runs": self.runs, "budget": self.budget, "at_limit": list(self.at_limit),
            "program": self.program.to_text(),
            "trials": [dict(point, metric=json_float(metric)) for point, metric in self.trials]}


def _key(point: dict) -> tuple:
  return tuple(sorted(point.items()))


def _procedure(space_: Space, budget: int) -> Iterator[list[dict]]:
  """The tuning procedure as a generator: yields the points to score next, receives their
  metrics, and returns the ``Tuned`` pieces (see the module docstring)."""
  trials: list[tuple[dict, float]] = []
  scored: dict[tuple, float] = {}
  point = space_.start()

  def best_point() -> dict | None:
    index = best_index([m for _, m in trials])
    return None if index is None else trials[index][0]

  def run(points: list[dict], cap: int | None = None):
    fresh = []
    for p in points:
      if _key(p) not in scored and _key(p) not in {_key(q) for q in fresh}:
        fresh.append(p)
    if cap is not None:
      fresh = fresh[:max(0, cap)]
    if not fresh:
      return
    metrics = yield fresh
    for p, m in zip(fresh, metrics):
      m = float(m) if m is not None else math.nan
      scored[_key(p)] = m
      trials.append((p, m))

  # 1. Coarse sweep with edge extension.
  for axis in space_.axes:
    base = dict(best_point() or point)
    if axis.scale == CATEGORICAL:
      yield from run([{**base, axis.name: v} for v in axis.ladder])
      continue
    values = set(axis.ladder)
    own = point.get(axis.name)
    if axis.name != "lr" and isinstance(own, float) and axis.valid(own):
      values.add(own)
    candidates = [{**base, axis.name: v} for v in sorted(values)]
    if axis.zero:
      candidates.insert(0, {**base, axis.name: 0.0})
    yield from run(candidates)
    others = {k: v for k, v in base.items() if k != axis.name}
    while True:
      line = [(p[axis.name], m) for p, m in trials
              if all(p.get(k) == v for k, v in others.items())]
      ordered = sorted({v for v, _ in line if not (axis.zero and v == 0.0)}, key=axis.to_u)
      if not ordered:
        break
      index = best_index([m for _, m in line])
      if index is not None:
        winner = line[index][0]
        if axis.zero and winner == 0.0:
          break
      elif axis.name == "lr":
        winner = min(ordered)  # every learning rate failed: look lower
      else:
        break
      if winner not in (ordered[0], ordered[-1]):
        break
      directions = [-1, 1] if len(ordered) == 1 else [-1 if winner == ordered[0] else 1]
      extension = []
      for direction in directions:
        value = axis.from_u(axis.clip(axis.to_u(winner) + direction * axis.step))
        if value != winner and axis.valid(value) and _key({**base, axis.name: value}) not in scored:
          extension.append({**base, axis.name: value})
      if not extension:
        break  # at a hard limit (flagged below)
      yield from run(extension)

  # 2. Refinement until the budget is spent.
  divisor = 2
  moved_since_schedule = False
  while len(trials) < budget and divisor <= _FINEST:
    before = _key(best_point() or point)
    for axis in space_.axes:
      if len(trials) >= budget:
        break
      best = best_point() or point
      if axis.scale == CATEGORICAL:
        if moved_since_schedule:
          yield from run([{**best, axis.name: v} for v in axis.ladder], budget - len(trials))
          moved_since_schedule = False
        continue
      value = best[axis.name]
      if not isinstance(value, float) or (axis.zero and value == 0.0) or not axis.valid(value):
        continue
      u = axis.to_u(value)
      neighbours = []
      for direction in (-1, 1):
        candidate = axis.from_u(axis.clip(u + direction * axis.step / divisor))
        if axis.valid(candidate) and candidate != value:
          neighbours.append({**best, axis.name: candidate})
      yield from run(neighbours, budget - len(trials))
      if _key(best_point() or point) != _key(best):
        moved_since_schedule = True
    if _key(best_point() or point) == before:
      divisor *= 2

  best = best_point()
  limited = []
  for axis in space_.axes:
    if best is None or axis.scale == CATEGORICAL or axis.limits is None:
      continue
    value = best[axis.name]
    if not isinstance(value, float) or (axis.zero and value == 0.0):
      continue
    edges = [axis.clip(axis.to_u(limit)) for limit in axis.limits if axis.valid(limit)]
    if any(abs(axis.to_u(value) - edge) < 1e-6 for edge in edges):
      limited.append(axis.name)
  return trials, best, limited


def tune(spaces: dict[str, Space], score: Callable[[list[Program]], Sequence[float]],
         budget: int = DEFAULT_BUDGET) -> dict[str, Tuned]:
  """Tunes every space with the same procedure and budget, in lockstep: each round's points
  of all optimizers go to ``score`` together (a list of programs -> their validation metrics,
  lower is better, NaN for a failed run), so a batched evaluator keeps its slots full."""
  if budget < 1:
    raise SpaceError(f"tuning budget must be >= 1 run, got {budget}")
  running = {label: _procedure(s, budget) for label, s in spaces.items()}
  pending: dict[str, list[dict]] = {}
  results: dict[str, tuple] = {}
  for label, generator in running.items():
    try:
      pending[label] = next(generator)
    except StopIteration as stop:
      results[label] = stop.value
  while pending:
    labels = list(pending)
    programs = [spaces[label].apply(p) for label in labels for p in pending[label]]
    metrics = list(score(programs))
    offset = 0
    for label in labels:
      count = len(pending[label])
      answer = metrics[offset:offset + count]
      offset += count
      try:
        pending[label] = running[label].send(answer)
      except StopIteration as stop:
        results[label] = stop.value
        del pending[label]
  tuned = {}
  for label in spaces:
    trials, best, limited = results[label]
    s = spaces[label]
    if best is None:  # every run failed: keep the start, reported as failed
      best, metric = s.start(), math.nan
    else:
      metric = min(m for p, m in trials if _key(p) == _key(best))
    tuned[label] = Tuned(label, best, metric, s.apply(best), len(trials), budget,
                         tuple(sorted(limited)), tuple(trials))
  return tuned


def better_adamw(metrics: dict[str, float]) -> str:
  """The name of the better AdamW (lowest finite metric, ``adamw`` on ties or if none is
  finite) among the ``ADAMWS`` present in ``metrics``."""
  present = [name for name in ADAMWS if name in metrics]
  index = best_index([metrics[name] for name in present])
  return present[0] if index is None else present[index]


def log_ratio(reference: float, metric: float) -> float:
  """``log(reference / metric)``: > 0 when ``metric`` (lower is better) beats the reference;
  NaN when either is not a finite positive number."""
  if not (math.isfinite(reference) and math.isfinite(metric)) or reference <= 0 or metric <= 0:
    return math.nan
  return math.log(reference / metric)


def report(tuned: dict[str, Tuned]) -> str:
  """One line per optimizer: its tuned point, metric, runs used of the budget, limits hit."""
  lines = []
  for label, t in tuned.items():
    flag = f"  OPTIMUM AT A LIMIT: {', '.join(t.at_limit)}" if t.at_limit else ""
    over = (" (the coarse sweep needed more)" if t.runs > t.budget else
            " (nothing left to try at 1/64 of a step)" if t.runs < t.budget else "")
    lines.append(f"{label:16s} {t.describe():60s} metric {t.best_metric:.4f}  "
                 f"runs {t.runs}/{t.budget}{over}{flag}")
  return "\n".join(lines)
