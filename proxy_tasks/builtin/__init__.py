"""The built-in models as tasks (``proxy_tasks.protocol``), one model per file.

Every module here that sets ``MODEL`` (the ``TaskConfig.model`` it implements) and ``Task``
(a ``protocol.TaskBase`` built from a ``TaskConfig``) is found by ``models()``: adding a
built-in model is adding one file. The others (``digits``, ``noisy``) are shared bases.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil


@functools.cache
def models() -> dict[str, type]:
  """``{TaskConfig.model: task class}`` of every module of this package that defines one."""
  out = {}
  for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
    module = importlib.import_module(f"{__name__}.{info.name}")
    if hasattr(module, "MODEL"):
      out[module.MODEL] = module.Task
  return out
