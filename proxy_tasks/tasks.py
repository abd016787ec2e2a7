"""The built-in tasks, built from a ``TaskConfig``: ``build(config)`` (``proxy_tasks.get``).

Each built-in model is one file of ``proxy_tasks.builtin`` implementing the task protocol
(``proxy_tasks.protocol``): ``init_params(seed)``, ``data(seed)``, ``plan(seed)``,
``train_loss(params, data, plan_row)``, ``metric(params, data)`` (**lower is better**),
``shared_data`` and ``schedule()``. The evaluator and the per-program reference
(``proxy_tasks.reference``) use only these pieces, so they train on exactly the same numbers,
and a user's own task is scored the same way. The metrics:

==================  ===========================================================
model               metric
==================  ===========================================================
mlp, vit            validation cross-entropy (nats) on the held-out digits
transformer_lm      validation cross-entropy (nats per byte; perplexity = e^x)
                    on every non-overlapping window of the held-out text
quadratic           the noiseless objective 1/2 sum_i h_i (w_i - w*_i)^2
rosenbrock          the noiseless sum_i 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2
linear_regression   mean squared error on held-out examples
==================  ===========================================================

The toys add ``noise * <plan_row, w>`` to the training loss (a stochastic gradient).
"""

from __future__ import annotations

from proxy_tasks import builtin
from proxy_tasks.config import TaskConfig
from proxy_tasks.protocol import TaskBase

# The protocol's base class: the type of any task (built-in or a user's).
Task = TaskBase


def models() -> tuple[str, ...]:
  """The built-in models (``TaskConfig.model``), one file each in ``proxy_tasks.builtin``."""
  return tuple(builtin.models())


def build(config: TaskConfig) -> TaskBase:
  """The built-in task of ``config.model`` with ``config``."""
  classes = builtin.models()
  if config.model not in classes:
    raise ValueError(f"task '{config.name}': unknown model '{config.model}'; known: "
                     f"{', '.join(classes)}")
  return classes[config.model](config)
