"""optsearch proxy tasks: small training problems that score optimizer programs, fast.

>>> import proxy_tasks
>>> task = proxy_tasks.get(proxy_tasks.DEFAULT_PROXY, steps=100, seed=1)
>>> results = proxy_tasks.Evaluator(task).evaluate([dsl.library.load("lion")])
>>> results[0].fitness   # log(metric(AdamW) / metric): higher is better, -inf on failure

Tasks (``names()``): ``mlp_digits`` (the default proxy: a 64-32-10 tanh MLP on scikit-learn's
digits), ``vit_digits`` (a 2-block ViT on the same), ``lm_sklearn_text`` (a 2-block byte-level
Transformer LM on the dataset descriptions scikit-learn ships), and the toys ``quadratic``,
``rosenbrock``, ``linear_regression``; or your own model: any object following the task
protocol (``proxy_tasks.protocol``), named by import path ``package.module:factory``
wherever a task name goes (``resolve``; docs/own_task.md).
``register_scaled("mlp_digits_10x", "mlp_digits", hidden=(320,), steps=3000)`` registers a
larger member of a family.
"""

from proxy_tasks import xla_flags

xla_flags.apply()

# pylint: disable=wrong-import-position
from proxy_tasks.config import TaskConfig, schedule
from proxy_tasks.evaluator import STATUSES, Evaluator, Result
from proxy_tasks.protocol import Settings, TaskBase, TaskError, validate
from proxy_tasks.registry import (DEFAULT_PROXY, check, config_of, get, get_config,
                                  is_import_path, names, register, register_scaled, resolve)
from proxy_tasks.tasks import Task

__all__ = ["DEFAULT_PROXY", "STATUSES", "Evaluator", "Result", "Settings", "Task", "TaskBase",
           "TaskConfig", "TaskError", "check", "config_of", "get", "get_config",
           "is_import_path", "names", "register", "register_scaled", "resolve", "schedule",
           "validate"]
