"""The functions of the optimizer language: every one is declared once, in ``FUNCTIONS``.

Adding a function to the language is adding one row to the table below. A row says

* ``name`` (canonical spelling, the one the printer writes) and ``aliases``;
* ``arity`` and ``scalar_args`` (indices of arguments that must be scalars);
* ``kind``, which fixes both the result type and how the leaf-level ``impl`` is lifted to
  parameter-shaped pytrees:

  ============  ===========================================  ===============================
  kind          result type                                  ``impl`` receives / returns
  ============  ===========================================  ===============================
  constant      scalar                                       nothing -> a Python float
  elementwise   broadcast of the argument types              arrays -> array (per element)
  per_array     tree -> per-array scalars, else unchanged     one array -> its 0-d reduction
  global        scalar                                       lists of leaves -> a 0-d array
  global_scale  type of the first argument                   lists of leaves -> a 0-d factor
                                                             that multiplies the first arg
  ============  ===========================================  ===============================

* ``commutative`` (used by the semantic hash) and ``symbol`` (infix operators ``+ - * /``).

Guards (why: a search produces every corner case, and a NaN should come from the program's
mathematics, not from a division by an exact zero):

* ``/`` and ``reciprocal``: a denominator with ``|y| < EPS`` is replaced by ``EPS`` carrying
  the sign of ``y`` (``+EPS`` for ``y == 0``). ``x / 0 == x / 1e-8``.
* ``log log2 log10 sqrt``: act on ``|x|``; the logs floor ``|x|`` at ``TINY`` (1e-30) so that
  ``log(0)`` is ``log(1e-30)`` (about -69), not ``-inf``.
* ``log1p(x) = log(max(|1 + x|, TINY))``.
* ``cosine_sim``: the product of norms is floored at ``EPS``. ``clip``: the global norm is
  floored at ``EPS``.
* ``arcsin arccos arccosh arctanh power``: no guard. Outside their domain they give NaN, and
  the evaluator records such a run as failed ("nan").
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import jax.numpy as jnp

EPS = 1e-8
TINY = 1e-30

CONSTANT = "constant"
ELEMENTWISE = "elementwise"
PER_ARRAY = "per_array"
GLOBAL = "global"
GLOBAL_SCALE = "global_scale"
KINDS = (CONSTANT, ELEMENTWISE, PER_ARRAY, GLOBAL, GLOBAL_SCALE)


@dataclasses.dataclass(frozen=True)
class Function:
  name: str
  arity: int
  kind: str
  impl: Callable
  aliases: tuple[str, ...] = ()
  scalar_args: frozenset[int] = frozenset()
  commutative: bool = False
  symbol: str | None = None
  doc: str = ""


def _safe_denominator(y):
  return jnp.where(jnp.abs(y) < EPS, jnp.where(y < 0, -EPS, EPS), y)


def _log_abs(log_fn):
  return lambda x: log_fn(jnp.maximum(jnp.abs(x), TINY))


def _sum_of_products(xs, ys):
  return sum(jnp.sum(x * y) for x, y in zip(xs, ys))


def _global_norm(xs):
  return jnp.sqrt(_sum_of_products(xs, xs))


def _cosine_sim(xs, ys):
  return _sum_of_products(xs, ys) / jnp.maximum(_global_norm(xs) * _global_norm(ys), EPS)


def _clip_factor(xs, cs):
  return jnp.minimum(1.0, cs[0] / jnp.maximum(_global_norm(xs), EPS))


def _row(name, arity, kind, impl, *aliases, scalar_args=(), commutative=False, symbol=None, doc=""):
  return Function(name, arity, kind, impl, tuple(aliases), frozenset(scalar_args), commutative,
                  symbol, doc)


def _unary(name, impl, *aliases, doc=""):
  return _row(name, 1, ELEMENTWISE, impl, *aliases, doc=doc)


FUNCTIONS: tuple[Function, ...] = (
    # Constants.
    _row("get_pi", 0, CONSTANT, lambda: math.pi, doc="pi"),
    _row("get_e", 0, CONSTANT, lambda: math.e, doc="e"),
    _row("get_eps", 0, CONSTANT, lambda: EPS, doc="1e-8"),
    # Elementwise, one argument.
    _unary("abs", jnp.abs),
    _unary("cos", jnp.cos),
    _unary("sin", jnp.sin),
    _unary("tan", jnp.tan),
    _unary("arcsin", jnp.arcsin, doc="NaN outside [-1, 1]"),
    _unary("arccos", jnp.arccos, doc="NaN outside [-1, 1]"),
    _unary("arctan", jnp.arctan),
    _unary("sinh", jnp.sinh),
    _unary("cosh", jnp.cosh),
    _unary("tanh", jnp.tanh),
    _unary("arcsinh", jnp.arcsinh),
    _unary("arccosh", jnp.arccosh, doc="NaN below 1"),
    _unary("arctanh", jnp.arctanh, doc="NaN outside (-1, 1)"),
    _unary("exp", jnp.exp),
    _unary("exp2", jnp.exp2),
    _unary("exp10", lambda x: jnp.power(10.0, x)),
    _unary("expm1", jnp.expm1),
    _unary("log", _log_abs(jnp.log), doc="log(max(|x|, 1e-30))"),
    _unary("log10", _log_abs(jnp.log10), doc="log10(max(|x|, 1e-30))"),
    _unary("log2", _log_abs(jnp.log2), doc="log2(max(|x|, 1e-30))"),
    _unary("log1p", lambda x: jnp.log(jnp.maximum(jnp.abs(1.0 + x), TINY)),
           doc="log(max(|1 + x|, 1e-30))"),
    _unary("square", jnp.square),
    _unary("sqrt", lambda x: jnp.sqrt(jnp.abs(x)), doc="sqrt(|x|)"),
    _unary("cube", lambda x: x * x * x),
    _unary("cbrt", jnp.cbrt),
    _unary("sign", jnp.sign),
    _unary("reciprocal", lambda x: 1.0 / _safe_denominator(x), doc="1 / x, |x| floored at 1e-8"),
    _unary("negative", jnp.negative),
    # Elementwise, two arguments (scalars broadcast).
    _row("+", 2, ELEMENTWISE, jnp.add, "add", commutative=True, symbol="+"),
    _row("-", 2, ELEMENTWISE, jnp.subtract, "subtract", symbol="-"),
    _row("*", 2, ELEMENTWISE, jnp.multiply, "multiply", commutative=True, symbol="*"),
    _row("/", 2, ELEMENTWISE, lambda x, y: x / _safe_denominator(y), "divide", symbol="/",
         doc="x / y, |y| floored at 1e-8"),
    _row("power", 2, ELEMENTWISE, jnp.power, doc="NaN for a negative base and fractional power"),
    _row("maximum", 2, ELEMENTWISE, jnp.maximum, "max", commutative=True),
    _row("minimum", 2, ELEMENTWISE, jnp.minimum, "min", commutative=True),
    _row("interp", 3, ELEMENTWISE, lambda x, y, a: (1.0 - a) * x + a * y, "interpolate",
         scalar_args=(2,), doc="(1 - a) * x + a * y"),
    # Reductions.
    _row("norm", 1, PER_ARRAY, lambda x: jnp.sqrt(jnp.sum(x * x)), doc="L2 norm of each array"),
    _row("global_norm", 1, GLOBAL, _global_norm, doc="L2 norm of the whole tree"),
    _row("dot", 2, GLOBAL, _sum_of_products, commutative=True, doc="tree inner product"),
    _row("cosine_sim", 2, GLOBAL, _cosine_sim, commutative=True,
         doc="dot(x, y) / max(global_norm(x) * global_norm(y), 1e-8)"),
    _row("clip", 2, GLOBAL_SCALE, _clip_factor, "clip_by_global_norm", scalar_args=(1,),
         doc="x * min(1, c / max(global_norm(x), 1e-8))"),
)

BY_NAME: dict[str, Function] = {}
for _function in FUNCTIONS:
  for _spelling in (_function.name, *_function.aliases):
    assert _spelling not in BY_NAME, f"{_spelling} is declared twice"
    BY_NAME[_spelling] = _function
BY_SYMBOL: dict[str, Function] = {f.symbol: f for f in FUNCTIONS if f.symbol}


def lookup(name: str) -> Function | None:
  """The function spelled ``name`` (canonical name or alias), or None."""
  return BY_NAME.get(name)
