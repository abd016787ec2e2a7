"""The search's configuration: YAML validated into typed, frozen dataclasses.

A config file is the first thing a search reads, so every mistake in it is reported as one
line that names the file, line and column (PyYAML nodes carry marks), the dotted key, and what
is allowed::

    configs/x.yaml:7:3: unknown key 'evolution.populaton_size'; allowed: population_size, ...
    configs/x.yaml:4:20: 'evolution.tournament_size' must be an integer, got 'two'

``--set key=value`` overrides (dotted keys; the value is read as YAML) are validated the same
way, located as ``--set key=value``. ``to_yaml(config)`` is the resolved config saved with a run;
``load(path)`` of that file gives the same config back.
"""

from __future__ import annotations

import dataclasses
import pathlib
import typing
from typing import Any, Mapping, Sequence

import yaml

from search import evolution as evolution_lib
from search import mutation


class ConfigError(ValueError):
  """A bad config: ``WHERE: message`` on one line (CLIs print it and exit with status 2)."""


@dataclasses.dataclass(frozen=True)
class EvolutionConfig:
  """Regularized evolution (Real et al., 2019) as in Section 2 of Chen et al. (2023).

  Each of ``repeats`` independent populations ("islands", all warm-started from the initial
  program) evolves by: sample ``tournament_size`` members uniformly (with replacement), mutate
  the fittest once, append the child, drop the oldest once the population holds
  ``population_size``. An island that has not improved its best fitness for ``restart_after``
  children restarts: its whole population becomes copies of its best program (0: never).

  ``strategy`` picks the arm of the paper's comparison (Figure 2; ``search.evolution``):
  ``evolution`` (the above), ``random`` (random search: a uniformly drawn parent, no
  tournament, so ``tournament_size`` is unused; requires ``restart_after: 0``, since a
  restart from the best is selection) or ``constants`` (constant-only tuning: the above with
  ``mutation.mutate_constant`` as the only mutation, so ``mutation_weights`` and
  ``max_program_length`` are unused). The budget, the cache and the run folder are the same
  for all three.
  """
  strategy: str = "evolution"
  population_size: int = 1000
  tournament_size: int = 2
  max_program_length: int = 30
  mutation_weights: dict[str, float] = dataclasses.field(
      default_factory=lambda: dict(mutation.DEFAULT_WEIGHTS))
  repeats: int = 1
  restart_after: int = 0


@dataclasses.dataclass(frozen=True)
class HurdleConfig:
  """A cheap stage before the task (``proxy_tasks.fitness.StagedEvaluator``): a child goes on
  only if its fitness here is at least ``threshold`` (``median``: the median of the last
  ``window`` children scored here, per worker; or a number)."""
  overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
  threshold: Any = "median"
  window: int = 100


@dataclasses.dataclass(frozen=True)
class TaskSpec:
  """A task as the search names it: ``proxy_tasks.resolve(name, **overrides)`` (``name`` a
  registered task or a user's ``package.module:factory``; ``proxy_tasks.TaskConfig`` is the
  settings of a built-in task, another thing). The config's ``task`` section, the monitor's
  task (``MetaValidationConfig.task_spec``) and what a batch is scored on (``workers``).

  ``suite`` (task name -> overrides) adds tasks: fitness is then the mean over ``name`` and
  the suite of each task's log-ratio against its own tuned AdamW
  (``proxy_tasks.fitness.SuiteEvaluator``). ``hurdles`` (task name -> ``HurdleConfig``, in
  order) are cheaper stages a child must clear before it is trained on the task (or suite)
  (``proxy_tasks.fitness.StagedEvaluator``); what they save is in ``metrics.csv``.
  ``evaluator`` (``"module:callable"``, optional) replaces ``proxy_tasks.Evaluator``: the
  callable receives ``(name, **overrides)`` and returns an object with
  ``evaluate(programs) -> results``.
  """
  name: str
  overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
  evaluator: str = ""
  suite: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)
  hurdles: dict[str, HurdleConfig] = dataclasses.field(default_factory=dict)

  @classmethod
  def of(cls, name: str, overrides: Mapping[str, Any] | None = None, evaluator: str = ""
         ) -> "TaskSpec":
    return cls(name, dict(overrides or {}), evaluator)


@dataclasses.dataclass(frozen=True)
class BudgetConfig:
  """When the search stops: after ``max_programs`` children (scored or from the cache),
  ``max_trained`` programs trained (0: no limit) or ``max_hours`` of wall-clock time (0: no
  limit), whichever comes first.

  ``max_trained`` counts what the workers train for the search: the warm start and every
  child not resolved from the cache (``scored`` in metrics.csv; the warm start's tuning grid
  is not counted). It is the budget of equal compute: arms whose cache hit rates differ (a
  constant-only search has almost none) train the same number of programs under it, where
  under ``max_programs`` they would not.
  """
  max_programs: int
  max_hours: float = 0.0
  max_trained: int = 0


@dataclasses.dataclass(frozen=True)
class WorkersConfig:
  """Who scores programs. ``backend: ray`` runs ``num_workers`` actors (0: one per CPU) on an
  embedded local Ray, or on the cluster at ``address`` (or ``$RAY_ADDRESS``); ``backend:
  local`` scores in the driver process (no Ray; for debugging and tests). Each worker holds
  ``batches_per_worker`` batches of ``batch_size`` programs; an actor that dies is restarted
  up to ``max_restarts`` times and its batch is scored again."""
  backend: str = "ray"
  num_workers: int = 0
  batch_size: int = 1
  batches_per_worker: int = 1
  max_restarts: int = 3
  address: str = ""


@dataclasses.dataclass(frozen=True)
class OutputConfig:
  """The run folder ``<runs_dir>/<name>/`` and how often it is brought up to date."""
  runs_dir: str = "runs"
  checkpoint_every_s: float = 60.0
  metrics_every_s: float = 10.0
  top_k: int = 10


@dataclasses.dataclass(frozen=True)
class MetaValidationConfig:
  """Meta-overfitting monitor and funnel (``meta_validation``; Chen et al., 2023, Section 2.3).

  Every ``every`` scored programs the current best is also scored on the meta-validation task
  ``task`` (e.g. ``mlp_digits_10x``) by the search's own workers, and ``meta_validation.csv``
  and ``meta_validation.png`` in the run folder show it next to its proxy fitness (Figure 3).
  ``overrides`` and ``evaluator`` are as in ``task``. An empty ``task`` (or ``every: 0``)
  turns the monitor off.

  ``funnel_at_end``: when the budget is spent (not on Ctrl-C), run funnel selection
  (``meta_validation.funnel``) on the ``funnel_top_k`` best programs over ``funnel_seeds``
  seeds, after ``funnel_holdout_seeds`` fresh proxy seeds (0: none) weed out the programs that
  were lucky on the search's; ``funnel_task_10x``/``funnel_task_100x`` default to
  ``<proxy task>_10x``/``_100x``.
  """
  task: str = ""
  every: int = 0
  overrides: dict[str, Any] = dataclasses.field(default_factory=dict)
  evaluator: str = ""
  funnel_at_end: bool = False
  funnel_top_k: int = 10
  funnel_seeds: int = 3
  funnel_holdout_seeds: int = 3
  funnel_task_10x: str = ""
  funnel_task_100x: str = ""

  @property
  def task_spec(self) -> TaskSpec:
    """The monitor's task."""
    return TaskSpec(self.task, dict(self.overrides), self.evaluator)

  @property
  def monitoring(self) -> bool:
    """Whether the meta-overfitting monitor is on."""
    return bool(self.task) and self.every > 0


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """A whole search: run ``name``, ``seed``, the warm start ``initial_program`` (a built-in
  name such as ``adamw`` or a program file) and the sections above.

  ``tune_initial``: before the search, the initial program's learning rate and weight decay
  (the constants of its ``lr = lr * c`` and ``wd = w * c`` statements) are set to the best
  point of ``dsl.hyperparameters.GRIDS["adamw"]`` on the proxy task, so the search
  starts from, and must beat, AdamW tuned on its own budget.
  """
  name: str
  seed: int
  initial_program: str
  task: TaskSpec
  budget: BudgetConfig
  tune_initial: bool = False
  evolution: EvolutionConfig = dataclasses.field(default_factory=EvolutionConfig)
  workers: WorkersConfig = dataclasses.field(default_factory=WorkersConfig)
  output: OutputConfig = dataclasses.field(default_factory=OutputConfig)
  meta_validation: MetaValidationConfig = dataclasses.field(
      default_factory=MetaValidationConfig)


# Keys a resumed run may change (how long and on what it runs, not what it searches).
# The monitor's interval and the funnel may change too; its task may not (one curve, one task).
RESUMABLE_CHANGES = ("budget.", "workers.", "output.checkpoint_every_s", "output.metrics_every_s",
                     "output.top_k", "meta_validation.every", "meta_validation.funnel_")


@dataclasses.dataclass
class _Located:
  """A YAML value (a dict of ``_Located`` for mappings) and where it was written."""
  value: Any
  where: str


def _where(mark, filename: str) -> str:
  return f"{filename}:{mark.line + 1}:{mark.column + 1}"


def _annotate(node: yaml.Node, loader: yaml.SafeLoader, filename: str) -> _Located:
  where = _where(node.start_mark, filename)
  if isinstance(node, yaml.MappingNode):
    out = {}
    for key_node, value_node in node.value:
      key = loader.construct_object(key_node, deep=True)
      if not isinstance(key, str):
        raise ConfigError(f"{_where(key_node.start_mark, filename)}: keys must be strings, "
                          f"got {key!r}")
      if key in out:
        raise ConfigError(f"{_where(key_node.start_mark, filename)}: duplicate key '{key}'")
      out[key] = _annotate(value_node, loader, filename)
      out[key].where = _where(key_node.start_mark, filename)
    return _Located(out, where)
  return _Located(loader.construct_object(node, deep=True), where)


def _plain(located: _Located) -> Any:
  if isinstance(located.value, dict):
    return {k: _plain(v) for k, v in located.value.items()}
  return located.value


def _located_from_plain(value: Any, where: str) -> _Located:
  if isinstance(value, dict):
    return _Located({str(k): _located_from_plain(v, where) for k, v in value.items()}, where)
  return _Located(value, where)


def _type_name(annotation) -> str:
  if dataclasses.is_dataclass(annotation):
    return "a mapping"
  origin = typing.get_origin(annotation)
  if origin is dict:
    return "a mapping"
  return {int: "an integer", float: "a number", str: "a string", bool: "true or false"}.get(
      annotation, str(annotation))


def _convert(annotation, located: _Located, key: str):
  value = located.value
  if annotation is Any:
    return _plain(located)

  def bad():
    shown = _plain(located)
    return ConfigError(f"{located.where}: '{key}' must be {_type_name(annotation)}, "
                       f"got {shown!r}")

  if dataclasses.is_dataclass(annotation):
    if not isinstance(value, dict):
      raise bad()
    return _build(annotation, located, key + ".")
  origin = typing.get_origin(annotation)
  if origin is dict:
    if not isinstance(value, dict):
      raise bad()
    _, value_type = typing.get_args(annotation)
    if value_type is Any:
      return _plain(located)
    return {k: _convert(value_type, v, f"{key}.{k}") for k, v in value.items()}
  if annotation is bool:
    if not isinstance(value, bool):
      raise bad()
    return value
  if annotation is int:
    if isinstance(value, bool) or not isinstance(value, int):
      raise bad()
    return value
  if annotation is float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
      raise bad()
    return float(value)
  if annotation is str:
    if not isinstance(value, str):
      raise bad()
    return value
  raise TypeError(f"unsupported config annotation {annotation}")  # a bug here, not in the file


def _build(cls, located: _Located, prefix: str = ""):
  hints = typing.get_type_hints(cls)
  fields = {f.name: f for f in dataclasses.fields(cls)}
  given: dict[str, _Located] = located.value
  for key, value in given.items():
    if key not in fields:
      raise ConfigError(f"{value.where}: unknown key '{prefix}{key}'; allowed: "
                        f"{', '.join(fields)}")
  kwargs = {}
  for name, field in fields.items():
    if name in given:
      kwargs[name] = _convert(hints[name], given[name], prefix + name)
    elif (field.default is dataclasses.MISSING
          and field.default_factory is dataclasses.MISSING):  # type: ignore[misc]
      raise ConfigError(f"{located.where}: missing key '{prefix}{name}' "
                        f"({_type_name(hints[name])})")
  return cls(**kwargs)


def _apply_override(root: _Located, assignment: str) -> None:
  where = f"--set {assignment}"
  if "=" not in assignment:
    raise ConfigError(f"{where}: expected KEY=VALUE with a dotted KEY (e.g. "
                      "evolution.population_size=100)")
  dotted, text = assignment.split("=", 1)
  try:
    value = yaml.safe_load(text) if text.strip() else ""
  except yaml.YAMLError as e:
    raise ConfigError(f"{where}: the value is not YAML ({str(e).splitlines()[0]})") from None
  keys = dotted.strip().split(".")
  node = root
  for key in keys[:-1]:
    child = node.value.get(key)
    if child is None or not isinstance(child.value, dict):
      child = _Located({}, where)
      node.value[key] = child
    node = child
  node.value[keys[-1]] = _located_from_plain(value, where)


def _validate(config: SearchConfig, where: Mapping[str, str]) -> SearchConfig:
  """Checks the relations between values that types cannot express."""

  def fail(key, message):
    raise ConfigError(f"{where.get(key, '<config>')}: '{key}' {message}")

  evolution = config.evolution
  for key, value, lowest in (("evolution.population_size", evolution.population_size, 1),
                             ("evolution.tournament_size", evolution.tournament_size, 1),
                             ("evolution.max_program_length", evolution.max_program_length, 1),
                             ("evolution.repeats", evolution.repeats, 1),
                             ("evolution.restart_after", evolution.restart_after, 0),
                             ("budget.max_programs", config.budget.max_programs, 0),
                             ("budget.max_trained", config.budget.max_trained, 0),
                             ("workers.num_workers", config.workers.num_workers, 0),
                             ("workers.batch_size", config.workers.batch_size, 1),
                             ("workers.batches_per_worker", config.workers.batches_per_worker, 1),
                             ("workers.max_restarts", config.workers.max_restarts, 0),
                             ("output.top_k", config.output.top_k, 1),
                             ("meta_validation.every", config.meta_validation.every, 0),
                             ("meta_validation.funnel_top_k", config.meta_validation.funnel_top_k,
                              1),
                             ("meta_validation.funnel_seeds", config.meta_validation.funnel_seeds,
                              1),
                             ("meta_validation.funnel_holdout_seeds",
                              config.meta_validation.funnel_holdout_seeds, 0)):
    if value < lowest:
      fail(key, f"must be at least {lowest}, got {value}")
  if evolution.tournament_size > evolution.population_size:
    fail("evolution.tournament_size", f"must be at most population_size "
         f"({evolution.population_size}), got {evolution.tournament_size}")
  weights = evolution.mutation_weights
  unknown = sorted(set(weights) - set(mutation.MUTATIONS))
  if unknown:
    fail(f"evolution.mutation_weights.{unknown[0]}",
         f"is not a mutation; allowed: {', '.join(mutation.MUTATIONS)}")
  if any(w < 0 for w in weights.values()) or not any(w > 0 for w in weights.values()):
    fail("evolution.mutation_weights", f"must be non-negative with one positive, got {weights}")
  if evolution.strategy not in evolution_lib.STRATEGIES:
    fail("evolution.strategy", f"must be one of {', '.join(evolution_lib.STRATEGIES)}, got "
         f"{evolution.strategy!r}")
  if evolution.strategy == "random" and evolution.restart_after:
    fail("evolution.restart_after", f"must be 0 with evolution.strategy 'random' (a restart "
         f"copies the island's best: that is selection), got {evolution.restart_after}")
  if config.workers.backend not in ("ray", "local"):
    fail("workers.backend", f"must be 'ray' or 'local', got {config.workers.backend!r}")
  for key, value in (("budget.max_hours", config.budget.max_hours),
                     ("output.checkpoint_every_s", config.output.checkpoint_every_s),
                     ("output.metrics_every_s", config.output.metrics_every_s)):
    if value < 0:
      fail(key, f"must be non-negative, got {value}")
  if not config.name or "/" in config.name or config.name in (".", ".."):
    fail("name", f"must be a folder name (no '/'), got {config.name!r}")
  for key, value in (("task.evaluator", config.task.evaluator),
                     ("meta_validation.evaluator", config.meta_validation.evaluator)):
    if value and value.count(":") != 1:
      fail(key, f"must be 'module:callable', got {value!r}")
  if config.task.evaluator and (config.task.suite or config.task.hurdles):
    fail("task.evaluator", "replaces the whole evaluator: it cannot be combined with "
         "task.suite or task.hurdles")
  for name, hurdle in config.task.hurdles.items():
    threshold = hurdle.threshold
    if threshold != "median" and (isinstance(threshold, bool)
                                  or not isinstance(threshold, (int, float))):
      fail(f"task.hurdles.{name}.threshold", f"must be 'median' or a number, got {threshold!r}")
    if hurdle.window < 1:
      fail(f"task.hurdles.{name}.window", f"must be at least 1, got {hurdle.window}")
  meta = config.meta_validation
  if meta.task and meta.every == 0:
    fail("meta_validation.every", f"must be at least 1 when meta_validation.task is set "
         f"({meta.task!r}); 0 with task '' turns the monitor off")
  if meta.every and not meta.task:
    fail("meta_validation.task", f"must name a task when meta_validation.every is set "
         f"({meta.every}); '' with every 0 turns the monitor off")
  return config


def _wheres(located: _Located, prefix: str = "") -> dict[str, str]:
  out = {}
  if isinstance(located.value, dict):
    for key, child in located.value.items():
      out[prefix + key] = child.where
      out.update(_wheres(child, f"{prefix}{key}."))
  return out


def _root(text: str, filename: str, overrides: Sequence[str]) -> _Located:
  """The config's YAML with where each value was written, ``--set`` overrides applied."""
  loader = yaml.SafeLoader(text)
  try:
    node = loader.get_single_node()
    if node is None:
      raise ConfigError(f"{filename}:1:1: the config is empty; it must be a mapping with keys "
                        f"{', '.join(f.name for f in dataclasses.fields(SearchConfig))}")
    if not isinstance(node, yaml.MappingNode):
      raise ConfigError(f"{_where(node.start_mark, filename)}: the config must be a mapping")
    root = _annotate(node, loader, filename)
  except yaml.YAMLError as e:
    mark = getattr(e, "problem_mark", None)
    where = _where(mark, filename) if mark is not None else filename
    raise ConfigError(f"{where}: not valid YAML: {getattr(e, 'problem', None) or e}") from None
  finally:
    loader.dispose()
  for assignment in overrides:
    _apply_override(root, assignment)
  return root


def parse(text: str, filename: str = "<config>", overrides: Sequence[str] = ()) -> SearchConfig:
  """Validates config ``text`` (with ``--set`` ``overrides``) into a ``SearchConfig``."""
  root = _root(text, filename, overrides)
  return _validate(_build(SearchConfig, root), _wheres(root))


def where(path: str | pathlib.Path, key: str, overrides: Sequence[str] = ()) -> str:
  """Where the config file at ``path`` (a valid one) sets dotted ``key``: ``FILE:LINE:COL``,
  the ``--set`` that set it, or ``FILE`` for a key left at its default; for messages about a
  value that only later checks refuse (an initial program file that is missing...)."""
  try:
    wheres = _wheres(_root(pathlib.Path(path).read_text(encoding="utf-8"), str(path),
                           overrides))
  except (OSError, ConfigError):
    return str(path)
  return wheres.get(key, str(path))


def load(path: str | pathlib.Path, overrides: Sequence[str] = ()) -> SearchConfig:
  """Reads and validates the config file at ``path``."""
  path = pathlib.Path(path)
  try:
    text = path.read_text(encoding="utf-8")
  except OSError as e:
    raise ConfigError(f"{path}: cannot read the config ({e.strerror})") from None
  return parse(text, str(path), overrides)


def to_dict(config: SearchConfig) -> dict[str, Any]:
  return dataclasses.asdict(config)


def to_yaml(config: SearchConfig) -> str:
  """The resolved config as YAML (every key, defaults included); ``parse`` reads it back."""
  return yaml.safe_dump(to_dict(config), sort_keys=False, default_flow_style=False)


def differences(old: SearchConfig, new: SearchConfig) -> list[tuple[str, Any, Any]]:
  """``(dotted key, old value, new value)`` for every key where the configs differ."""

  def flatten(config: SearchConfig) -> dict[str, Any]:
    out = {}
    for key, value in to_dict(config).items():
      if isinstance(value, dict):  # a section: one entry per key of it
        out.update({f"{key}.{k}": v for k, v in value.items()})
      else:
        out[key] = value
    return out

  a, b = flatten(old), flatten(new)
  return [(k, a.get(k), b.get(k)) for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]

