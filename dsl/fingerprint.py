"""Runs a program on fixed inputs, fast, for the functional fingerprint (``dsl.hashing``).

AutoML-Zero (Real et al., 2020, Sec. 4.2) catches functionally equivalent programs by running
each on a few fixed examples and hashing the rounded outputs. Here the live part of a program
runs ``STEPS`` steps from zero states, as in training, on a parameter tree of two arrays
(``LEAF_SIZES``; two, so that per-array and global reductions differ). The inputs are drawn
once from a fixed seed and span magnitudes: the gradient's scale changes by up to five orders
of magnitude between steps, so that thresholds (``clip``, ``maximum``) are crossed and programs
that only agree on small inputs are told apart. ``lr`` follows a warmup-then-decay shape in
(0, 1]. The observable behaviour of an optimizer is its update sequence, so only the updates
are returned: programs whose states differ but whose updates agree are the same optimizer.

Speed: a fingerprint must cost far less than training (a few ms); JAX's eager dispatch costs
~80 us an operation, so the program is run with NumPy. The table's own implementations are
used, not copies: each ``impl`` of ``dsl.functions`` (and the helpers it calls) is rebuilt
with NumPy standing in for ``jax.numpy`` (``numpy_twin``; the same code, other globals). Every
twin is checked once against its JAX original on probe inputs; a row whose twin disagrees
(a future impl using something NumPy lacks) falls back to its JAX impl, correct but slow
(``FALLBACKS`` names them; a test keeps it empty). Values are float64, so rounding differences
between algebraic twins (``(a + b) + c`` and ``a + (b + c)``) stay far below the rounding of
the outputs to ``SIGNIFICANT_BITS`` significant bits.

The value model mirrors ``dsl.compiler.apply``: a scalar is a 0-d float, a tree a flat vector
of all leaves, a per-array value the same vector with each array's value repeated over its
elements (so elementwise broadcasting is plain NumPy broadcasting). Reductions work on the
leaves exactly as the compiler does (a per-array value has one 0-d leaf per array).
"""

from __future__ import annotations

import types as pytypes
from typing import Any, Callable

import jax.numpy as jnp
import numpy as np

from dsl import functions as fns
from dsl.program import Type

FINGERPRINT_VERSION = "functional-v1"
STEPS = 6  # >= 1 + the most states (4): the last state's influence reaches the update
LEAF_SIZES = (3, 5)
SIGNIFICANT_BITS = 24  # about 7 decimal digits; float64 twins differ in the 16th
SEED = 20230213

_SIZE = sum(LEAF_SIZES)
_STARTS = tuple(int(s) for s in np.cumsum((0,) + LEAF_SIZES[:-1]))
_SEGMENTS = tuple(slice(start, start + size) for start, size in zip(_STARTS, LEAF_SIZES))


def _inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Weights, gradients (each ``(STEPS, size)``) and learning rates (``(STEPS,)``)."""
  rng = np.random.default_rng(SEED)
  g_exponents = np.array([-3.0, -1.0, 0.0, 2.0, -2.0, 1.0])[:STEPS, None]
  spread = rng.uniform(-1.0, 1.0, (STEPS, _SIZE))
  gradients = rng.normal(size=(STEPS, _SIZE)) * 10.0 ** (g_exponents + spread)
  weights = rng.normal(size=(STEPS, _SIZE)) * 10.0 ** rng.uniform(-2.0, 0.5, (STEPS, _SIZE))
  lrs = np.array([0.15, 0.6, 1.0, 0.85, 0.45, 0.1])[:STEPS]
  return weights, gradients, lrs


WEIGHTS, GRADIENTS, LRS = _inputs()


# NumPy twins of the table's implementations.

_JNP_TO_NP: dict[int, Any] = {}
for _name in dir(jnp):
  _jax_value, _np_value = getattr(jnp, _name, None), getattr(np, _name, None)
  if callable(_jax_value) and callable(_np_value) and not isinstance(_jax_value, type):
    _JNP_TO_NP[id(_jax_value)] = _np_value
_NAMESPACES: dict[int, dict] = {}
_TWINS: dict[int, Any] = {}


def numpy_twin(value: Any) -> Any:
  """``value`` with NumPy in place of ``jax.numpy``: a jnp function becomes NumPy's function
  of the same name, a Python function the same code over globals and closure cells so
  translated; anything else is returned as it is."""
  if value is jnp:
    return np
  if id(value) in _JNP_TO_NP:
    return _JNP_TO_NP[id(value)]
  if not isinstance(value, pytypes.FunctionType):
    return value
  if id(value) not in _TWINS:
    cells = tuple(pytypes.CellType(numpy_twin(c.cell_contents)) for c in value.__closure__ or ())
    _TWINS[id(value)] = pytypes.FunctionType(value.__code__, _namespace(value.__globals__),
                                             value.__name__, value.__defaults__, cells or None)
  return _TWINS[id(value)]


def _namespace(module_globals: dict) -> dict:
  """A copy of a module's globals with jnp and the module's own functions translated."""
  key = id(module_globals)
  if key not in _NAMESPACES:
    namespace = dict(module_globals)
    _NAMESPACES[key] = namespace  # before translating, for helpers that call each other
    for name, value in module_globals.items():
      if value is jnp or (isinstance(value, pytypes.FunctionType)
                          and value.__globals__ is module_globals):
        namespace[name] = numpy_twin(value)
  return _NAMESPACES[key]


def _probe_args(function: fns.Function) -> tuple:
  """Inputs that exercise a row's guards: zeros, tiny and negative values, both leaves."""
  xs = [np.array([-2.5, -0.7, -1e-9, 0.0, 0.3, 0.9, 2.0, 0.6], np.float32),
        np.array([1.5, -0.4, 0.0, 2.0, -3.0, 0.5, 1e-9, -0.8], np.float32),
        np.array([0.25, 0.5, 0.75, 1.0, 0.1, 0.9, 0.0, 0.3], np.float32)]
  scalar = np.float32(0.3)
  if function.kind == fns.CONSTANT:
    return ()
  if function.kind in (fns.ELEMENTWISE, fns.PER_ARRAY):
    return tuple(scalar if i in function.scalar_args else xs[i] for i in range(function.arity))
  return tuple([scalar] * len(LEAF_SIZES) if i in function.scalar_args
               else [xs[i][segment] for segment in _SEGMENTS] for i in range(function.arity))


def _agrees(function: fns.Function, twin: Callable) -> bool:
  args = _probe_args(function)
  try:
    with np.errstate(all="ignore"):
      ours = np.asarray(twin(*args), np.float64)
    theirs = np.asarray(function.impl(*args), np.float64)
  except Exception:  # pylint: disable=broad-except
    return False
  return ours.shape == theirs.shape and bool(
      np.allclose(ours, theirs, rtol=1e-4, atol=1e-6, equal_nan=True))


def _slow(impl: Callable) -> Callable:
  return lambda *args: np.asarray(impl(*args), np.float64)


_IMPLS: dict[str, tuple[fns.Function, Callable]] = {}
FALLBACKS: list[str] = []  # rows that run their JAX impl (their twin disagreed)


def impl_of(function: fns.Function) -> Callable:
  """The NumPy implementation of a row (built and checked once; rebuilt if the row changes)."""
  entry = _IMPLS.get(function.name)
  if entry is None or entry[0] is not function:
    twin = numpy_twin(function.impl)
    if twin is function.impl or not _agrees(function, twin):
      FALLBACKS.append(function.name)
      twin = _slow(function.impl)
    entry = _IMPLS[function.name] = (function, twin)
  return entry[1]


def impls() -> dict[str, Callable]:
  """The NumPy implementation of every row of the table, by canonical name."""
  return {function.name: impl_of(function) for function in fns.FUNCTIONS}


# Running a program.

def _leaves(value, type_: Type) -> list:
  if type_ == Type.SCALAR:
    return [value] * len(LEAF_SIZES)
  if type_ == Type.TREE:
    return [value[segment] for segment in _SEGMENTS]
  return [value[start] for start in _STARTS]


def _expand(per_leaf: list) -> np.ndarray:
  return np.repeat(np.asarray(per_leaf, np.float64), LEAF_SIZES)


def _step_function(function: fns.Function, impl: Callable, arg_types: tuple[Type, ...]
                   ) -> Callable:
  """``values -> result`` for one statement, specialised to its kind and argument types."""
  kind = function.kind
  width = max(arg_types, default=Type.SCALAR)
  if kind == fns.CONSTANT:
    value = float(impl())
    return lambda values: value
  if kind == fns.ELEMENTWISE or (kind == fns.PER_ARRAY and width == Type.SCALAR):
    return lambda values: impl(*values)
  if kind == fns.PER_ARRAY:
    return lambda values: _expand([impl(leaf) for leaf in _leaves(values[0], arg_types[0])])
  if width == Type.SCALAR:
    reduce = lambda values: impl(*[[v] for v in values])
  else:
    reduce = lambda values: impl(*[_leaves(v, t) for v, t in zip(values, arg_types)])
  if kind == fns.GLOBAL:
    return reduce
  return lambda values: values[0] * reduce(values)  # global_scale


def _to_tree(value) -> np.ndarray:
  if value.__class__ is np.ndarray and value.shape == (_SIZE,) and value.dtype == np.float64:
    return value
  return np.full(_SIZE, value, np.float64)


def run(analysis) -> np.ndarray | None:
  """The updates of the analysed program (``dsl.analysis.Analysis``) at each step, rounded,
  shape ``(STEPS, sum(LEAF_SIZES))``; None when some update is NaN or infinite."""
  program = analysis.program
  types = analysis.types
  lr_ref = -len(program.params)

  def type_of(ref):
    if ref.__class__ is not int:
      return Type.SCALAR
    if ref >= 0:
      return types[ref]
    return Type.SCALAR if ref == lr_ref else Type.TREE

  ops = []
  for index, is_live in enumerate(analysis.live):
    if is_live:
      function = fns.BY_NAME[program.statements[index].function]
      sources = analysis.sources[index]
      step_function = _step_function(function, impl_of(function),
                                     tuple(type_of(ref) for ref in sources))
      ops.append((index, sources, step_function))
  live_states = analysis.live_states
  outputs = analysis.outputs
  states = {state: np.zeros(_SIZE) for state in live_states}
  updates = np.empty((STEPS, _SIZE))
  with np.errstate(all="ignore"):
    for step in range(STEPS):
      env: dict[int, Any] = {-1: WEIGHTS[step], -2: GRADIENTS[step], lr_ref: LRS[step]}
      for state in live_states:
        env[-3 - state] = states[state]
      for index, sources, step_function in ops:
        env[index] = step_function([env[r] if r.__class__ is int else r for r in sources])
      updates[step] = _to_tree(env[outputs[0]])
      states = {state: _to_tree(env[outputs[1 + state]]) for state in live_states}
  if not np.isfinite(updates).all():
    return None
  return round_significant(updates)


def round_significant(values: np.ndarray, bits: int = SIGNIFICANT_BITS) -> np.ndarray:
  """``values`` (finite float64) rounded half-up to ``bits`` significant bits; -0.0 -> 0.0."""
  raw = (np.asarray(values, np.float64) + 0.0).view(np.uint64)
  dropped = np.uint64(53 - bits)
  half = np.uint64(1) << (dropped - np.uint64(1))
  mask = ~((np.uint64(1) << dropped) - np.uint64(1))
  return ((raw + half) & mask).view(np.float64)
