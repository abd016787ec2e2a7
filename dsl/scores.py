"""The one rule for a fitness the search ranks: a run without a finite score failed.

Higher fitness is better. A program whose training diverged, produced NaN, timed out or
crashed has no score; the search ranks it below every scored program (as evosax does with
NaN fitness), so every non-finite value, and a missing one, is ``-inf``:

  ranked_fitness(f) = f      if f is finite
                      -inf   if f is NaN, +inf, -inf or None

Values read back from JSON (``dsl.files.json_float`` writes ``"-inf"`` and ``"nan"`` as
strings; run folders written before it hold ``null``) go through the same rule.
"""

from __future__ import annotations

import math
from typing import Any

from dsl.files import float_from_json


def ranked_fitness(value: Any) -> float:
  """``value`` as the search ranks it: a finite float, or ``-inf`` for a failed run.

  Accepts numbers, None and the strings ``json_float`` writes; raises ``ValueError`` for
  anything else (a string that is not a number, a bool).
  """
  value = float_from_json(value)
  return value if math.isfinite(value) else -math.inf
