"""The exact rewrite rules: each turns an expression into a simpler equal one.

Every rule is a function ``rule(node, graph) -> Operand | None``: the replacement of ``node``
or None when it does not apply. ``RULES`` lists them in the order they are tried. They are
exact in real arithmetic; where the language's guards make them exact only on part of the
domain, the rule says where (a rule never turns a program that fails into one that trains
or back, except at those guards). Floating-point rounding may differ in the last bits.

**Constant folding** (``fold_constants``): an elementwise or constant function of constants is
its value (float64), e.g. ``tan(1.457)``, ``get_pi()``; only finite values are folded.

**Identities** (``drop_identity``): ``x * 1``, ``x / 1``, ``x + 0``, ``0 + x``, ``x - 0`` are
``x``; ``negative(negative(x)) = x``; ``sign(sign(x)) = sign(x)``; ``abs(abs(x)) = abs(x)``.

**Signs** (the paper's ``m / sqrt(m * m)`` to ``sign(m)``, done in two exact steps):

* ``sqrt_of_square``: ``sqrt(x * x) = sqrt(square(x)) = |x|`` (``sqrt`` acts on ``|x|``; exact
  until ``x * x`` overflows, ``|x| > 1.8e19`` in float32);
* ``sign_of_ratio``: ``x / |x| = |x| / x ... = sign(x)``; exact for ``|x| >= 1e-8``: below, the
  guarded division gives ``x / 1e-8`` (and ``0`` at ``0``, like ``sign``);
* ``sign_drops_positive_scale``: ``sign(c * x) = sign(x)`` for a constant ``c > 0`` (exact
  unless ``c * x`` underflows to 0).

**Scalar multipliers** (``collect_scalars``): a product is written as
``core * (s_1 * ... * s_k * c)``: its tree-valued factors (the core, in their order), the
scalars that are not constants (``lr``, a ``norm``...: ``s_i``, sorted) and the product ``c`` of
its constant factors. So ``(m * (lr * 2e-4)) / sqrt_v`` becomes ``(m / sqrt_v) * (lr * 2e-4)``
(exact: the guard of ``/`` looks at the denominator only) and ``(lr * c1) * c2`` becomes
``lr * (c1 * c2)``. A constant denominator ``x / c`` (``|c| >= 1e-8``) is the factor ``1 / c``.

**Common factors** (``factor_common_scale``): ``a * S + b * (c * S) = (a + b * c) * S`` when
both terms carry the same non-constant scalars ``S`` (or the same constant, ``!= 1``); the
common constant is the first term's, and constants both share cancel exactly (the weight
decay ``0.4602`` of Program 8 comes out as it was written, not as ``(0.4602 * c) / c``).

**Merged interpolations** (``merge_interpolations``). With ``interp(x, y, a) = (1 - a) x + a y``
and ``u = interp(g, s, a)``::

  interp(g, u, b) = (1 - b) g + b ((1 - a) g + a s) = (1 - a b) g + a b s = interp(g, s, a b)
  interp(u, g, b) = (1 - b) ((1 - a) g + a s) + b g   = interp(g, s, (1 - b) a)

and likewise when ``u = interp(s, g, a) = interp(g, s, 1 - a)``. The shared endpoint ``g``
must be the same value. This is the paper's raw Program 8 (after pruning, with
``g' = arcsin(clip(g, lr))``, ``a = 0.9`` (0.8999999761581421), ``b = 1.109133005142212``)::

  m_t = interp(g'_t, v_{t-1}, a)        # the update is sign(m_t) (plus weight decay)
  v_t = interp(g'_t, m_t, b)

``v`` only relays ``m``'s value to the next step, and the rule gives, exactly,
``v_t = interp(g'_t, v_{t-1}, a b)``: ``v`` is an exponential moving average of ``g'`` with
``beta2 = a b = 0.998219...`` (not 0.99), and ``m_t = interp(g'_t, v_{t-1}, a)`` is Lion's
update direction with ``beta1 = a = 0.9``. ``m`` no longer carries anything across steps, so
the program has one state: Lion's two-beta form (Chen et al., 2023, Program 1) in closed form,
with nothing approximated. (The paper's merging constant "~0.99" was read off by hand; the
algebra says 0.998.)
"""

from __future__ import annotations

import math
from typing import Callable, NamedTuple

import numpy as np

from dsl import fingerprint
from dsl import functions as fns
from dsl.program import Type
from simplify.expression import Graph
from simplify.nodes import Node, Operand, is_constant, operand_type

Rule = Callable[[Node, Graph], "Operand | None"]


class RuleInfo(NamedTuple):
  name: str
  why: str
  apply: Rule


# Constant folding.

def fold_constants(node: Node, graph: Graph) -> Operand | None:
  function = fns.BY_NAME[node.function]
  if function.kind not in (fns.CONSTANT, fns.ELEMENTWISE) or not all(map(is_constant,
                                                                         node.args)):
    return None
  with np.errstate(all="ignore"):
    value = float(fingerprint.impls()[node.function](*[np.float64(a) for a in node.args]))
  return value if math.isfinite(value) else None


# Identities.

def drop_identity(node: Node, graph: Graph) -> Operand | None:
  f, args = node.function, node.args
  if f == "*" and args[1] == 1.0:
    return args[0]
  if f == "*" and args[0] == 1.0:
    return args[1]
  if f in ("/", "-") and args[1] == (1.0 if f == "/" else 0.0):
    return args[0]
  if f == "+" and args[1] == 0.0:
    return args[0]
  if f == "+" and args[0] == 0.0:
    return args[1]
  inner = args[0] if args and isinstance(args[0], Node) else None
  if f == "negative" and inner is not None and inner.function == "negative":
    return inner.args[0]
  if f in ("sign", "abs") and inner is not None and inner.function == f:
    return inner
  return None


# Signs.

def _is_square_of(node: Operand) -> Operand | None:
  """``x`` when ``node`` is ``x * x`` or ``square(x)``."""
  if not isinstance(node, Node):
    return None
  if node.function == "square":
    return node.args[0]
  if node.function == "*" and node.args[0] == node.args[1]:
    return node.args[0]
  return None


def sqrt_of_square(node: Node, graph: Graph) -> Operand | None:
  if node.function == "sqrt":
    x = _is_square_of(node.args[0])
    if x is not None:
      return Node("abs", (x,))
  return None


def _abs_of(operand: Operand) -> Operand | None:
  if isinstance(operand, Node) and operand.function == "abs":
    return operand.args[0]
  return None


def sign_of_ratio(node: Node, graph: Graph) -> Operand | None:
  if node.function != "/":
    return None
  numerator, denominator = node.args
  if not isinstance(numerator, float) and _abs_of(denominator) == numerator:
    return Node("sign", (numerator,))  # x / |x|
  if not isinstance(denominator, float) and _abs_of(numerator) == denominator:
    return Node("sign", (denominator,))  # |x| / x
  return None


def sign_drops_positive_scale(node: Node, graph: Graph) -> Operand | None:
  if node.function != "sign":
    return None
  scaled = decompose(node.args[0])
  if scaled.core is None or scaled.symbols or len(scaled.constants) == 0:
    return None
  if math.prod(scaled.constants) > 0:
    return Node("sign", (scaled.core,))
  return None


# Scalar multipliers.

class Scaled(NamedTuple):
  """``core * prod(symbols) * prod(constants)``; ``core`` None means 1."""
  core: Operand | None
  symbols: tuple[Operand, ...]
  constants: tuple[float, ...]


def _is_scalar_product(operand: Operand) -> bool:
  return (isinstance(operand, Node) and operand_type(operand) == Type.SCALAR
          and operand.function in ("*", "/"))


def _is_product(operand: Operand) -> bool:
  return isinstance(operand, Node) and operand.function in ("*", "/")


# Nodes are immutable and equal by structure: a decomposition, once known, holds for good.
# Bounded, so that a long simplification does not keep every intermediate node alive.
_DECOMPOSED: dict[Node, Scaled] = {}
_DECOMPOSED_LIMIT = 100_000


def decompose(operand: Operand) -> Scaled:
  """``operand`` as ``core * scalars * constants`` (see the module docstring).

  Products and quotients nested under ``operand`` are decomposed arguments first, with an
  explicit stack (a chain of thousands of ``u = u * c`` is that deep) and remembered."""
  if not _is_product(operand):
    return _decomposed(operand)
  if len(_DECOMPOSED) > _DECOMPOSED_LIMIT:
    _DECOMPOSED.clear()
  stack = [operand]
  while stack:
    node = stack[-1]
    if node in _DECOMPOSED:
      stack.pop()
      continue
    waiting = [a for a in node.args if _is_product(a) and a not in _DECOMPOSED]
    if waiting:
      stack.extend(waiting)
      continue
    stack.pop()
    _DECOMPOSED[node] = _decompose_product(node)
  return _DECOMPOSED[operand]


def _decomposed(operand: Operand) -> Scaled:
  """``decompose(operand)`` of a constant, of a non-product, or of a product already done."""
  if isinstance(operand, float):
    return Scaled(None, (), (operand,))
  if not _is_product(operand):
    return Scaled(operand, (), ())
  return _DECOMPOSED[operand]


def _decompose_product(operand: Node) -> Scaled:
  """``decompose`` of one product or quotient whose arguments are decomposed already."""
  x, y = operand.args
  if operand.function == "/":
    if isinstance(y, float):
      if abs(y) < fns.EPS:
        return Scaled(operand, (), ())
      left = _decomposed(x)
      return Scaled(left.core, left.symbols, left.constants + (1.0 / y,))
    left = _decomposed(x)
    if left.core is None:  # (lr * c) / y: left as it is
      return Scaled(operand, (), ())
    return Scaled(Node("/", (left.core, y)), left.symbols, left.constants)
  parts = [_factor(a) for a in (x, y)]
  cores = [p.core for p in parts if p.core is not None]
  core = None
  if len(cores) == 1:
    core = cores[0]
  elif len(cores) == 2:
    core = Node("*", tuple(cores))
  symbols = tuple(sorted(parts[0].symbols + parts[1].symbols, key=lambda s: s.key))
  return Scaled(core, symbols, tuple(sorted(parts[0].constants + parts[1].constants)))


def _factor(operand: Operand) -> Scaled:
  """One factor of a product: a constant, a scalar symbol, or a (tree) core to split."""
  if isinstance(operand, float):
    return Scaled(None, (), (operand,))
  if operand_type(operand) == Type.SCALAR:
    if _is_scalar_product(operand):
      inner = _decomposed(operand)
      symbols = inner.symbols + ((inner.core,) if inner.core is not None else ())
      return Scaled(None, tuple(symbols), inner.constants)
    return Scaled(None, (operand,), ())
  return _decomposed(operand)


def build(scaled: Scaled) -> Operand:
  """The canonical expression of ``scaled``: ``core * ((s_1 * s_2) * c)``."""
  constant = math.prod(scaled.constants) if scaled.constants else 1.0
  scale: Operand | None = None
  for symbol in scaled.symbols:
    scale = symbol if scale is None else Node("*", (scale, symbol))
  if constant != 1.0 or (scale is None and scaled.core is None):
    scale = constant if scale is None else Node("*", (scale, constant))
  if scaled.core is None:
    return scale
  return scaled.core if scale is None else Node("*", (scaled.core, scale))


def collect_scalars(node: Node, graph: Graph) -> Operand | None:
  if node.function not in ("*", "/"):
    return None
  rebuilt = build(decompose(node))
  return None if rebuilt == node else rebuilt


def _cancel(numerator: tuple[float, ...], denominator: tuple[float, ...]) -> float:
  """``prod(numerator) / prod(denominator)``, shared factors cancelled exactly."""
  rest = list(numerator)
  leftover = []
  for c in denominator:
    if c in rest:
      rest.remove(c)
    else:
      leftover.append(c)
  value = math.prod(rest) if rest else 1.0
  return value / math.prod(leftover) if leftover else value


def factor_common_scale(node: Node, graph: Graph) -> Operand | None:
  if node.function not in ("+", "-"):
    return None
  a, b = (decompose(x) for x in node.args)
  if a.core is None or b.core is None or a.symbols != b.symbols:
    return None
  if not a.symbols and not (a.constants and a.constants == b.constants
                            and math.prod(a.constants) != 1.0):
    return None
  second = build(Scaled(b.core, (), (_cancel(b.constants, a.constants),)))
  return build(Scaled(Node(node.function, (a.core, second)), a.symbols, a.constants))


# Interpolations.

def _as_interp_of(operand: Operand, shared: Operand) -> tuple[float, Operand] | None:
  """``(w, other)`` with ``operand == interp(shared, other, w)``; None if it is no such
  interpolation (with a constant weight)."""
  if not (isinstance(operand, Node) and operand.function == "interp"
          and isinstance(operand.args[2], float)):
    return None
  x, y, a = operand.args
  if x == shared:
    return a, y
  if y == shared:
    return 1.0 - a, x
  return None


def merge_interpolations(node: Node, graph: Graph) -> Operand | None:
  if node.function != "interp" or not isinstance(node.args[2], float):
    return None
  x, y, b = node.args
  # interp(g, u, b) with u = interp(g, s, a) (in either orientation): weight b on u.
  inner = _as_interp_of(y, x) if not isinstance(x, float) else None
  if inner is not None:
    a, other = inner
    return Node("interp", (x, other, a * b))
  # interp(u, g, b): weight 1 - b on u.
  inner = _as_interp_of(x, y) if not isinstance(y, float) else None
  if inner is not None:
    a, other = inner
    return Node("interp", (y, other, a * (1.0 - b)))
  return None


RULES: tuple[RuleInfo, ...] = (
    RuleInfo("fold_constants", "a function of constants is a constant", fold_constants),
    RuleInfo("drop_identity", "x * 1, x + 0, -(-x), sign(sign(x)) ... are simpler",
             drop_identity),
    RuleInfo("sqrt_of_square", "sqrt(x * x) = |x|", sqrt_of_square),
    RuleInfo("sign_of_ratio", "x / |x| = sign(x) (for |x| >= 1e-8, the guard of '/')",
             sign_of_ratio),
    RuleInfo("sign_drops_positive_scale", "sign(c * x) = sign(x) for a constant c > 0",
             sign_drops_positive_scale),
    RuleInfo("merge_interpolations",
             "interp(g, interp(g, s, a), b) = interp(g, s, a * b): one moving average",
             merge_interpolations),
    RuleInfo("collect_scalars", "scalar multipliers collected: core * (lr * c)",
             collect_scalars),
    RuleInfo("factor_common_scale", "a * S + b * S = (a + b) * S", factor_common_scale),
)
