"""XLA settings the evaluator needs to be fast; applied when ``proxy_tasks`` is imported.

``--xla_cpu_copy_insertion_use_region_analysis=true``: the evaluator's statement loop is a
``while`` loop nested in the step loop, both carrying the register file. Without region
analysis XLA's copy insertion copies the whole file twice per step (2.5 MB for 8 programs on
the MLP); with it the copies go (the step time it saves: docs/results.md, "Measured
costs"). The flag only changes where XLA copies buffers, never results. XLA reads
``XLA_FLAGS`` when the backend starts, so this must run before the first computation; if JAX
is already running it changes nothing (and ``applied()`` says so).
"""

from __future__ import annotations

import os

FLAGS = ("--xla_cpu_copy_insertion_use_region_analysis=true",)
_state = {"applied": False}


def apply() -> bool:
  """Adds ``FLAGS`` to ``XLA_FLAGS`` if the XLA backend has not started; returns whether the
  flags are in effect."""
  from jax._src import xla_bridge  # pylint: disable=import-outside-toplevel
  current = os.environ.get("XLA_FLAGS", "")
  missing = [flag for flag in FLAGS if flag.split("=")[0] not in current]
  if not missing:
    _state["applied"] = True
    return True
  if xla_bridge.backends_are_initialized():
    return False
  os.environ["XLA_FLAGS"] = " ".join([current, *missing]).strip()
  _state["applied"] = True
  return True


def applied() -> bool:
  return _state["applied"]
