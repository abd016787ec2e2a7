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

* ``commutative`` (used by the semantic hash) and ``symbol`` (infix operators ``+ - * /``);
* ``source``: the leaf-level implementation as Python source, an expression over ``jnp``,
  ``math``, ``EPS``, ``TINY`` and the helpers of this module. ``impl`` is compiled from it (so
  the two cannot disagree) and ``python -m dsl export`` writes it into standalone modules;
* ``latex``: how the paper-style listing (``--format latex``) writes a call, a ``str.format``
  template over the arguments ``{0} {1} {2}`` (default ``\\operatorname{name}(...)``).

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
  source: str = ""
  latex: str = ""


def _safe_denominator(y):
  return jnp.where(jnp.abs(y) < EPS, jnp.where(y < 0, -EPS, EPS), y)


def _sum_of_products(xs, ys):
  return sum(jnp.sum(x * y) for x, y in zip(xs, ys))


def _global_norm(xs):
  return jnp.sqrt(_sum_of_products(xs, xs))


def _cosine_sim(xs, ys):
  return _sum_of_products(xs, ys) / jnp.maximum(_global_norm(xs) * _global_norm(ys), EPS)


def _clip_factor(xs, cs):
  return jnp.minimum(1.0, cs[0] / jnp.maximum(_global_norm(xs), EPS))


def _compile(source: str) -> Callable:
  """The implementation a row's ``source`` defines, evaluated in this module's namespace (its
  helpers, ``jnp``, ``math``, ``EPS``, ``TINY``). The sources are this table's constants, never
  program text."""
  return eval(source, globals())  # pylint: disable=eval-used


def _row(name, arity, kind, source, *aliases, scalar_args=(), commutative=False, symbol=None,
         doc="", latex=""):
  return Function(name, arity, kind, _compile(source), tuple(aliases), frozenset(scalar_args),
                  commutative, symbol, doc, source, latex)


def _unary(name, source, *aliases, doc="", latex=""):
  return _row(name, 1, ELEMENTWISE, source, *aliases, doc=doc, latex=latex)


FUNCTIONS: tuple[Function, ...] = (
    # Constants.
    _row("get_pi", 0, CONSTANT, "lambda: math.pi", doc="pi", latex=r"\pi"),
    _row("get_e", 0, CONSTANT, "lambda: math.e", doc="e", latex="e"),
    _row("get_eps", 0, CONSTANT, "lambda: EPS", doc="1e-8", latex=r"\epsilon"),
    # Elementwise, one argument.
    _unary("abs", "jnp.abs", latex=r"\left|{0}\right|"),
    _unary("cos", "jnp.cos", latex=r"\cos({0})"),
    _unary("sin", "jnp.sin", latex=r"\sin({0})"),
    _unary("tan", "jnp.tan", latex=r"\tan({0})"),
    _unary("arcsin", "jnp.arcsin", doc="NaN outside [-1, 1]", latex=r"\arcsin({0})"),
    _unary("arccos", "jnp.arccos", doc="NaN outside [-1, 1]", latex=r"\arccos({0})"),
    _unary("arctan", "jnp.arctan", latex=r"\arctan({0})"),
    _unary("sinh", "jnp.sinh", latex=r"\sinh({0})"),
    _unary("cosh", "jnp.cosh", latex=r"\cosh({0})"),
    _unary("tanh", "jnp.tanh", latex=r"\tanh({0})"),
    _unary("arcsinh", "jnp.arcsinh"),
    _unary("arccosh", "jnp.arccosh", doc="NaN below 1"),
    _unary("arctanh", "jnp.arctanh", doc="NaN outside (-1, 1)"),
    _unary("exp", "jnp.exp", latex=r"e^{{{0}}}"),
    _unary("exp2", "jnp.exp2", latex=r"2^{{{0}}}"),
    _unary("exp10", "lambda x: jnp.power(10.0, x)", latex=r"10^{{{0}}}"),
    _unary("expm1", "jnp.expm1", latex=r"(e^{{{0}}} - 1)"),
    _unary("log", "lambda x: jnp.log(jnp.maximum(jnp.abs(x), TINY))",
           doc="log(max(|x|, 1e-30))", latex=r"\log\left|{0}\right|"),
    _unary("log10", "lambda x: jnp.log10(jnp.maximum(jnp.abs(x), TINY))",
           doc="log10(max(|x|, 1e-30))", latex=r"\log_{{10}}\left|{0}\right|"),
    _unary("log2", "lambda x: jnp.log2(jnp.maximum(jnp.abs(x), TINY))",
           doc="log2(max(|x|, 1e-30))", latex=r"\log_2\left|{0}\right|"),
    _unary("log1p", "lambda x: jnp.log(jnp.maximum(jnp.abs(1.0 + x), TINY))",
           doc="log(max(|1 + x|, 1e-30))", latex=r"\log\left|1 + {0}\right|"),
    _unary("square", "jnp.square", latex=r"{0}^2"),
    _unary("sqrt", "lambda x: jnp.sqrt(jnp.abs(x))", doc="sqrt(|x|)",
           latex=r"\sqrt{{\left|{0}\right|}}"),
    _unary("cube", "lambda x: x * x * x", latex=r"{0}^3"),
    _unary("cbrt", "jnp.cbrt", latex=r"\sqrt[3]{{{0}}}"),
    _unary("sign", "jnp.sign", latex=r"\operatorname{{sign}}({0})"),
    _unary("reciprocal", "lambda x: 1.0 / _safe_denominator(x)", doc="1 / x, |x| floored at 1e-8",
           latex=r"\frac{{1}}{{{0}}}"),
    _unary("negative", "jnp.negative", latex=r"-{0}"),
    # Elementwise, two arguments (scalars broadcast).
    _row("+", 2, ELEMENTWISE, "jnp.add", "add", commutative=True, symbol="+", latex="{0} + {1}"),
    _row("-", 2, ELEMENTWISE, "jnp.subtract", "subtract", symbol="-", latex="{0} - {1}"),
    _row("*", 2, ELEMENTWISE, "jnp.multiply", "multiply", commutative=True, symbol="*",
         latex=r"{0} \cdot {1}"),
    _row("/", 2, ELEMENTWISE, "lambda x, y: x / _safe_denominator(y)", "divide", symbol="/",
         doc="x / y, |y| floored at 1e-8", latex=r"\frac{{{0}}}{{{1}}}"),
    _row("power", 2, ELEMENTWISE, "jnp.power", doc="NaN for a negative base and fractional power",
         latex=r"{0}^{{{1}}}"),
    _row("maximum", 2, ELEMENTWISE, "jnp.maximum", "max", commutative=True,
         latex=r"\max({0}, {1})"),
    _row("minimum", 2, ELEMENTWISE, "jnp.minimum", "min", commutative=True,
         latex=r"\min({0}, {1})"),
    _row("interp", 3, ELEMENTWISE, "lambda x, y, a: (1.0 - a) * x + a * y", "interpolate",
         scalar_args=(2,), doc="(1 - a) * x + a * y", latex=r"(1 - {2})\, {0} + {2}\, {1}"),
    # Reductions.
    _row("norm", 1, PER_ARRAY, "lambda x: jnp.sqrt(jnp.sum(x * x))", doc="L2 norm of each array",
         latex=r"\lVert {0} \rVert_2"),
    _row("global_norm", 1, GLOBAL, "_global_norm", doc="L2 norm of the whole tree",
         latex=r"\lVert {0} \rVert"),
    _row("dot", 2, GLOBAL, "_sum_of_products", commutative=True, doc="tree inner product",
         latex=r"\langle {0}, {1} \rangle"),
    _row("cosine_sim", 2, GLOBAL, "_cosine_sim", commutative=True,
         doc="dot(x, y) / max(global_norm(x) * global_norm(y), 1e-8)",
         latex=r"\cos\angle({0}, {1})"),
    _row("clip", 2, GLOBAL_SCALE, "_clip_factor", "clip_by_global_norm", scalar_args=(1,),
         doc="x * min(1, c / max(global_norm(x), 1e-8))",
         latex=r"\operatorname{{clip}}({0}, {1})"),
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
