"""Tasks by name. ``resolve(name, **overrides)`` builds one; ``register`` adds a built-in one.

A task name is either registered (``mlp_digits``; ``names()``) or an import path
``package.module:factory`` naming a user's task factory (``proxy_tasks.protocol``):
``resolve`` is the one place that turns any task name into a task, for the search, its
workers, the monitor, the funnel, replays and the baselines. Larger members of a family are
registered in one line, e.g.::

  proxy_tasks.register_scaled("mlp_digits_10x", "mlp_digits", hidden=(320,), steps=3000)
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect

from proxy_tasks import protocol
from proxy_tasks import tasks
from proxy_tasks.config import TaskConfig
from proxy_tasks.protocol import TaskError

_CONFIGS: dict[str, TaskConfig] = {}

# The search's default proxy: the 64-32-10 tanh MLP on digits (the reference workload of
# benchmarks/eval_throughput.py); cheapest of the real-data tasks.
DEFAULT_PROXY = "mlp_digits"


def register(config: TaskConfig, overwrite: bool = False) -> TaskConfig:
  """Adds ``config`` under ``config.name``; a name is registered once unless ``overwrite``."""
  if config.name in _CONFIGS and not overwrite and _CONFIGS[config.name] != config:
    raise ValueError(f"task '{config.name}' is already registered with another config")
  _CONFIGS[config.name] = config
  return config


def register_scaled(name: str, base: str, **overrides) -> TaskConfig:
  """Registers ``name``: the config of ``base`` with ``overrides`` (e.g. wider, longer)."""
  return register(dataclasses.replace(get_config(base), name=name, **overrides))


def names() -> list[str]:
  return sorted(_CONFIGS)


def get_config(name: str, **overrides) -> TaskConfig:
  if name not in _CONFIGS:
    raise KeyError(f"unknown proxy task '{name}'; known: {', '.join(names())}, or an import "
                   "path 'package.module:factory' of your own task")
  fields = {f.name for f in dataclasses.fields(TaskConfig)}
  unknown = sorted(set(overrides) - fields)
  if unknown:
    raise TypeError(f"task '{name}': unknown config field(s) {', '.join(unknown)}; fields: "
                    f"{', '.join(sorted(fields))}")
  return dataclasses.replace(_CONFIGS[name], **overrides)


def get(name: str, **overrides) -> tasks.Task:
  """The task ``name`` with any config field overridden (e.g. ``steps=100, seeds=(1,)``);
  ``seed=s`` is ``seeds=(s,)``. ``name`` may be an import path (``resolve``)."""
  return resolve(name, **overrides)


def is_import_path(name: str) -> bool:
  """Whether ``name`` names a user's task factory, ``package.module:factory``."""
  return ":" in name


def resolve(name: str, **overrides) -> tasks.Task:
  """The task called ``name``, with ``overrides``; the one resolver of task names.

  * a registered name: the built-in task of its config with any config field overridden;
  * ``package.module:factory``: ``factory(**overrides)``, except the overrides that are run
    settings (``protocol.SETTINGS``, and ``seed``: one seed) which the factory does not take
    as keyword arguments: those replace the fields of the task's ``config``. The task is
    checked against the protocol the first time (``protocol.validate``).

  Lists in ``overrides`` (YAML's) become tuples, here and only here, as a frozen config
  holds them (``hidden=[64]`` is ``hidden=(64,)``).

  Raises ``KeyError`` (unknown registered name), ``TypeError`` (unknown config field),
  ``ValueError`` (a value out of range) or ``TaskError`` (a user's task that does not import,
  raises or breaks the protocol); ``check`` turns them into one ``TaskError`` line.
  """
  overrides = {key: _frozen(value) for key, value in overrides.items()}
  if "seed" in overrides:  # convenience: one seed
    overrides["seeds"] = (int(overrides.pop("seed")),)
  if not is_import_path(name):
    return tasks.build(get_config(name, **overrides))
  factory = _factory(name)
  try:
    accepted = inspect.signature(factory).parameters
  except (TypeError, ValueError):
    accepted = {}
  settings = {k: overrides.pop(k) for k in list(overrides)
              if k in protocol.SETTINGS and k not in accepted}
  try:
    task = factory(**overrides)
  except Exception as error:  # pylint: disable=broad-except
    raise TaskError(f"task '{name}': {_call_text(name, overrides)} raised "
                    f"{type(error).__name__}: {_first_line(error)}") from None
  lacking = protocol.missing(task)
  if lacking:
    raise TaskError(f"task '{name}': {_call_text(name, overrides)} returned a "
                    f"{type(task).__name__}, which is not a task: it lacks "
                    f"{', '.join(lacking)} (see proxy_tasks.protocol; subclass "
                    "proxy_tasks.TaskBase)")
  try:
    task = protocol.with_settings(task, **settings)
  except (TypeError, ValueError) as error:
    raise TaskError(f"task '{name}': {_first_line(error)}") from None
  key = (name, repr(sorted(overrides.items())), repr(sorted(settings.items())))
  if key not in _VALIDATED:
    protocol.validate(task, f"task '{name}'")
    _VALIDATED.add(key)
  return task


def check(name: str, **overrides) -> tasks.Task:
  """``resolve``, with any failure as one ``TaskError`` line (for the command lines)."""
  try:
    return resolve(name, **overrides)
  except TaskError:
    raise
  except (KeyError, TypeError, ValueError) as error:
    raise TaskError(_first_line(error)) from None


_VALIDATED: set = set()


def _frozen(value):
  """``value`` with every list (YAML's sequences) a tuple, recursively."""
  if isinstance(value, (list, tuple)):
    return tuple(_frozen(v) for v in value)
  if isinstance(value, dict):
    return {k: _frozen(v) for k, v in value.items()}
  return value


def _factory(name: str):
  module_name, _, attribute = name.partition(":")
  if not module_name or not attribute or ":" in attribute:
    raise TaskError(f"task '{name}': an import path must be 'package.module:factory'")
  try:
    module = importlib.import_module(module_name)
  except Exception as error:  # pylint: disable=broad-except
    hint = ("; run from the folder that holds it, install it, or add its folder to PYTHONPATH"
            if isinstance(error, ModuleNotFoundError) else "")
    raise TaskError(f"task '{name}': cannot import '{module_name}': "
                    f"{type(error).__name__}: {_first_line(error)}{hint}") from None
  factory = getattr(module, attribute, None)
  if factory is None or not callable(factory):
    where = getattr(module, "__file__", module_name)
    raise TaskError(f"task '{name}': {where} has no callable '{attribute}'")
  return factory


def _call_text(name: str, kwargs: dict) -> str:
  arguments = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
  return f"{name.partition(':')[2]}({arguments})"


def _first_line(error: BaseException) -> str:
  text = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
  lines = str(text).strip().splitlines()
  return lines[0] if lines else type(error).__name__


def config_of(name: str, **overrides):
  """The settings of task ``name`` (its ``config``): a registered task's without building
  it; a user's task is built."""
  if is_import_path(name):
    return resolve(name, **overrides).config
  if "seed" in overrides:
    overrides["seeds"] = (int(overrides.pop("seed")),)
  return get_config(name, **overrides)


register(TaskConfig(name="mlp_digits", model="mlp", dataset="digits", hidden=(32,),
                    activation="tanh", batch_size=64, steps=300))
register(TaskConfig(name="vit_digits", model="vit", dataset="digits", width=32, depth=2,
                    heads=2, patch=2, batch_size=64, steps=300))
register(TaskConfig(name="lm_sklearn_text", model="transformer_lm", dataset="sklearn_text",
                    width=32, depth=2, heads=2, context=32, batch_size=16, steps=300))
register(TaskConfig(name="quadratic", model="quadratic", dataset="none", width=16,
                    batch_size=1, steps=100))
register(TaskConfig(name="rosenbrock", model="rosenbrock", dataset="none", width=4,
                    batch_size=1, steps=100, noise=0.01))
register(TaskConfig(name="linear_regression", model="linear_regression", dataset="none",
                    width=8, batch_size=32, steps=100))

# The families' larger members (<family>_10x, _100x): registered here, found here.
from proxy_tasks import scaled  # pylint: disable=wrong-import-position,unused-import,cyclic-import
