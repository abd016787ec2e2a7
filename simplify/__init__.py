"""optsearch's simplifier: turns a raw discovered program into a short, readable optimizer.

>>> import dsl, simplify
>>> result = simplify.simplify(dsl.library.load("program8"))            # exact stages only
>>> result = simplify.simplify(program, simplify.Scorer("mlp_digits"))  # and ablation
>>> print(result.report())

Stages (each step of the report gives what changed, why, the semantic hash and, with a task,
the fitness): **prune** (``simplify.exact``: cross-step liveness), **rewrite**
(``simplify.rules``: exact algebra, applied to a fixed point by ``simplify.rewrite``),
**ablate** (``simplify.ablation``: drop what the task cannot tell apart, at a calibrated step
size, ``simplify.scoring``). Command line: ``python -m simplify PROGRAM.py``.
"""

from simplify.ablation import Trial, ablate, candidates
from simplify.exact import exact_steps, simplified
from simplify.rules import RULES
from simplify.scoring import Scorer, calibrate, scaled
from simplify.simplifier import (DEFAULT_SEEDS, DEFAULT_TOLERANCE, Simplification, Step,
                                 format_report, simplify)

__all__ = ["DEFAULT_SEEDS", "DEFAULT_TOLERANCE", "RULES", "Scorer", "Simplification", "Step",
           "Trial", "ablate", "calibrate", "candidates", "exact_steps", "format_report",
           "scaled", "simplified", "simplify"]
