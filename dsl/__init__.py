"""optsearch's optimizer-program language.

>>> import dsl
>>> adamw = dsl.library.load("adamw")
>>> step = dsl.compile(adamw)           # (w, g, states, lr) -> (update, states)
>>> opt = dsl.to_optax(adamw)            # an optax.GradientTransformation
"""

from dsl import functions
from dsl import library
from dsl.analysis import effective_states, prune, redundant_statements
from dsl.cache import FitnessCache
from dsl.compiler import compile, init_states  # pylint: disable=redefined-builtin
from dsl.functions import FUNCTIONS, Function
from dsl.graph import graph, to_dot, write_dot
from dsl.hashing import functional_fingerprint, semantic_hash, structure_hash
from dsl.optax_export import to_optax
from dsl.parser import parse, parse_file
from dsl.program import Program, ProgramError, Statement, Type, check, infer_types, is_valid
from dsl.scores import ranked_fitness


def to_text(program: Program) -> str:
  """The canonical text of ``program``; ``parse(to_text(p)) == p``."""
  return program.to_text()
