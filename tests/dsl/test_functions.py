"""The function table: every row against a numpy reference, guards, aliases, and extension."""

import math
import pathlib
import sys
import types

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dsl
from dsl import functions as fns
from dsl import source_export
from dsl.__main__ import function_table
from dsl.compiler import apply
from dsl.program import Type

REPO = pathlib.Path(__file__).resolve().parents[2]
EPS, TINY = 1e-8, 1e-30


def safe(y):
  """The guarded denominator: |y| < 1e-8 becomes 1e-8 with y's sign (+ for 0)."""
  y = np.asarray(y, np.float64)
  return np.where(np.abs(y) < EPS, np.where(y < 0, -EPS, EPS), y)


def log_abs(log):
  return lambda x: log(np.maximum(np.abs(x), TINY))


def global_norm(xs):
  return math.sqrt(sum(float(np.sum(np.square(x))) for x in xs))


def dot(xs, ys):
  return sum(float(np.sum(x * y)) for x, y in zip(xs, ys))


# Independent numpy (float64) references, written from the documented semantics.
ELEMENTWISE = {
    "abs": np.abs, "cos": np.cos, "sin": np.sin, "tan": np.tan, "arcsin": np.arcsin,
    "arccos": np.arccos, "arctan": np.arctan, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "exp": np.exp,
    "exp2": np.exp2, "exp10": lambda x: 10.0 ** x, "expm1": np.expm1,
    "log": log_abs(np.log), "log10": log_abs(np.log10), "log2": log_abs(np.log2),
    "log1p": lambda x: np.log(np.maximum(np.abs(1 + x), TINY)), "square": np.square,
    "sqrt": lambda x: np.sqrt(np.abs(x)), "cube": lambda x: x ** 3, "cbrt": np.cbrt,
    "sign": np.sign, "reciprocal": lambda x: 1 / safe(x), "negative": np.negative,
    "+": np.add, "-": np.subtract, "*": np.multiply, "/": lambda x, y: x / safe(y),
    "power": np.power, "maximum": np.maximum, "minimum": np.minimum,
    "interp": lambda x, y, a: (1 - a) * x + a * y,
}
CONSTANTS = {"get_pi": math.pi, "get_e": math.e, "get_eps": 1e-8}
PER_ARRAY = {"norm": lambda x: np.sqrt(np.sum(np.square(x)))}
GLOBAL = {"global_norm": global_norm, "dot": dot,
          "cosine_sim": lambda xs, ys: dot(xs, ys) / max(global_norm(xs) * global_norm(ys), EPS)}
GLOBAL_SCALE = {"clip": lambda xs, c: min(1.0, c / max(global_norm(xs), EPS))}
REFERENCES = {**ELEMENTWISE, **CONSTANTS, **PER_ARRAY, **GLOBAL, **GLOBAL_SCALE}

# Sample points: both signs, the guards' thresholds and exact zeros, domain edges.
POINTS = np.array([-3.0, -1.5, -1.0, -0.5, -1e-9, -0.0, 0.0, 1e-9, 2e-8, 0.25, 0.5, 0.999, 1.0,
                   1.5, 3.0], np.float32)


def test_every_row_has_a_reference_and_kind():
  assert set(REFERENCES) == {f.name for f in fns.FUNCTIONS}
  for kind, table in [(fns.ELEMENTWISE, ELEMENTWISE), (fns.CONSTANT, CONSTANTS),
                      (fns.PER_ARRAY, PER_ARRAY), (fns.GLOBAL, GLOBAL),
                      (fns.GLOBAL_SCALE, GLOBAL_SCALE)]:
    assert {f.name for f in fns.FUNCTIONS if f.kind == kind} == set(table)


def test_table_is_well_formed():
  spellings = [s for f in fns.FUNCTIONS for s in (f.name, *f.aliases)]
  assert len(spellings) == len(set(spellings))
  for f in fns.FUNCTIONS:
    assert f.kind in fns.KINDS
    assert all(0 <= i < f.arity for i in f.scalar_args)
    assert (f.arity == 0) == (f.kind == fns.CONSTANT)
    if f.symbol:
      assert f.arity == 2 and f.name == f.symbol and fns.BY_SYMBOL[f.symbol] is f
    if f.commutative:
      assert f.arity == 2
    assert fns.lookup(f.name) is f


@pytest.mark.parametrize("alias, canonical", [
    (alias, f.name) for f in fns.FUNCTIONS for alias in f.aliases])
def test_aliases_resolve_to_the_same_row(alias, canonical):
  assert fns.lookup(alias) is fns.lookup(canonical)
  function = fns.lookup(alias)
  args = ", ".join("lr" if i in function.scalar_args else "g" for i in range(function.arity))
  text = f"def train(w, g, lr):\n  u = {alias}({args})\n  return u\n"
  assert dsl.parse(text).statements[0].function == canonical


def test_lookup_of_an_unknown_name_is_none():
  assert fns.lookup("frobnicate") is None and fns.lookup("") is None


def _grid(arity):
  """All pairs (or triples) of sample points, flattened."""
  if arity == 1:
    return [POINTS]
  grids = np.meshgrid(*[POINTS] * arity, indexing="ij")
  return [g.ravel() for g in grids]


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_rows_match_numpy(name):
  function = fns.lookup(name)
  args = _grid(function.arity)
  if name == "interp":
    args[2] = np.float32(0.9)  # a scalar-only argument
  got = np.asarray(function.impl(*[jnp.asarray(a) for a in args]), np.float64)
  with np.errstate(all="ignore"):
    want = ELEMENTWISE[name](*[np.asarray(a, np.float64) for a in args])
  finite = np.isfinite(want) & (np.abs(want) < 1e30)
  assert np.array_equal(np.isnan(got), np.isnan(want)), "NaN where the reference is not"
  np.testing.assert_allclose(got[finite], want[finite], rtol=2e-5, atol=1e-6)


@pytest.mark.parametrize("name, args, expected", [
    ("/", (1.0, 0.0), 1e8), ("/", (1.0, -0.0), 1e8), ("/", (1.0, -1e-9), -1e8),
    ("/", (0.0, 0.0), 0.0), ("/", (3.0, 1e-8), 3e8), ("reciprocal", (0.0,), 1e8),
    ("reciprocal", (-5e-9,), -1e8), ("log", (0.0,), math.log(1e-30)), ("log", (-math.e,), 1.0),
    ("log2", (0.0,), math.log2(1e-30)), ("log10", (-100.0,), 2.0), ("log1p", (-1.0,), math.log(1e-30)),
    ("log1p", (-3.0,), math.log(2.0)), ("sqrt", (-4.0,), 2.0), ("sqrt", (0.0,), 0.0),
])
def test_guards(name, args, expected):
  got = float(fns.lookup(name).impl(*[jnp.float32(a) for a in args]))
  assert math.isclose(got, expected, rel_tol=1e-6), (name, args, got)


@pytest.mark.parametrize("name, args", [("arcsin", (1.5,)), ("arccos", (-2.0,)), ("arccosh", (0.5,)),
                                        ("arctanh", (2.0,)), ("power", (-2.0, 0.5))])
def test_unguarded_functions_give_nan_outside_their_domain(name, args):
  assert math.isnan(float(fns.lookup(name).impl(*[jnp.float32(a) for a in args])))


@pytest.mark.parametrize("name", sorted(CONSTANTS))
def test_constants(name):
  value = apply(fns.lookup(name), [], [], jax.tree.structure(0))
  assert value.shape == () and math.isclose(float(value), CONSTANTS[name], rel_tol=1e-7)


def _tree(rng, scale=1.0):
  return {"a": scale * rng.standard_normal(5).astype(np.float32),
          "b": scale * rng.standard_normal((2, 3)).astype(np.float32)}


def test_norm_is_per_array():
  tree = _tree(np.random.default_rng(0))
  out = apply(fns.lookup("norm"), [tree], [Type.TREE], jax.tree.structure(tree))
  for key in tree:
    assert out[key].shape == ()
    np.testing.assert_allclose(out[key], PER_ARRAY["norm"](tree[key].astype(np.float64)), rtol=1e-6)


@pytest.mark.parametrize("name", sorted(GLOBAL))
def test_global_reductions_match_numpy(name):
  rng = np.random.default_rng(1)
  x, y = _tree(rng), _tree(rng)
  function = fns.lookup(name)
  args = [x, y][:function.arity]
  out = apply(function, args, [Type.TREE] * function.arity, jax.tree.structure(x))
  want = GLOBAL[name](*[[leaf.astype(np.float64) for leaf in jax.tree.leaves(a)] for a in args])
  assert np.shape(out) == ()
  np.testing.assert_allclose(float(out), want, rtol=1e-5)


def test_cosine_similarity_of_zeros_is_zero_not_nan():
  zeros = {"a": np.zeros(3, np.float32)}
  out = apply(fns.lookup("cosine_sim"), [zeros, zeros], [Type.TREE] * 2, jax.tree.structure(zeros))
  assert float(out) == 0.0


@pytest.mark.parametrize("scale, bound", [(10.0, 1.0), (0.01, 1.0), (0.0, 1.0), (3.0, 0.0)])
def test_clip_scales_the_tree_to_the_global_norm_bound(scale, bound):
  x = _tree(np.random.default_rng(2), scale)
  out = apply(fns.lookup("clip"), [x, jnp.float32(bound)], [Type.TREE, Type.SCALAR],
              jax.tree.structure(x))
  leaves64 = [leaf.astype(np.float64) for leaf in jax.tree.leaves(x)]
  factor = GLOBAL_SCALE["clip"](leaves64, bound)
  for key in x:
    np.testing.assert_allclose(out[key], factor * x[key].astype(np.float64), rtol=1e-5, atol=1e-30)
  assert global_norm(jax.tree.leaves(out)) <= max(bound, 0.0) * (1 + 1e-5) + 1e-30


# Adding a function is adding one row: the rest of the language picks it up from the table.
NEW_ROW = ('    _unary("softsign", "lambda x: x / (1.0 + jnp.abs(x))", "soft_sign", '
           'doc="x / (1 + |x|)"),\n')


@pytest.fixture
def one_more_row(monkeypatch):
  """``dsl/functions.py`` with NEW_ROW added to its table, installed in place of the real one
  (the module's derived indices are rebuilt by its own code, nothing else is touched)."""
  source = pathlib.Path(fns.__file__).read_text(encoding="utf-8")
  anchor = "FUNCTIONS: tuple[Function, ...] = (\n"
  assert source.count(anchor) == 1
  module = types.ModuleType("dsl_functions_plus_one")
  monkeypatch.setitem(sys.modules, module.__name__, module)
  code = compile(source.replace(anchor, anchor + NEW_ROW), fns.__file__, "exec")
  exec(code, module.__dict__)  # pylint: disable=exec-used  (our own module's source)
  assert len(module.FUNCTIONS) == len(fns.FUNCTIONS) + 1
  for name in ("FUNCTIONS", "BY_NAME", "BY_SYMBOL"):
    monkeypatch.setattr(fns, name, getattr(module, name))
  return module


def test_adding_one_row_makes_a_function_of_the_language(one_more_row):
  text = ("def train(w, g, m, lr):\n  m = soft_sign(g)\n  n = norm(m)\n  u = softsign(n)\n"
          "  u = u * lr\n  return u, m\n")
  program = dsl.parse(text)  # parses, alias included, and type-checks
  assert [s.function for s in program.statements] == ["softsign", "norm", "softsign", "*"]
  assert dsl.infer_types(program) == (Type.TREE, Type.PER_ARRAY, Type.PER_ARRAY, Type.PER_ARRAY)
  canonical = program.to_text()  # prints under its canonical name
  assert "m = softsign(g)" in canonical and dsl.parse(canonical) == program
  g = {"x": jnp.array([-2.0, 0.0, 3.0]), "y": jnp.array([[1.0, -1.0]])}
  update, (m,) = dsl.compile(program)(g, g, dsl.init_states(program, g), 2.0)
  np.testing.assert_allclose(m["x"], [-2 / 3, 0.0, 0.75], rtol=1e-6)
  norm_x = math.sqrt((2 / 3) ** 2 + 0.75 ** 2)
  np.testing.assert_allclose(update["x"], np.full(3, 2 * norm_x / (1 + norm_x)), rtol=1e-6)
  assert "`softsign(x)`" in function_table()
  exported = source_export.optax_module(program)  # the standalone module writes its source
  assert "def _softsign(x):\n  return x / (1.0 + jnp.abs(x))\n" in exported
  with pytest.raises(dsl.ProgramError, match="'softsign' takes 1 argument, got 2"):
    dsl.parse("def train(w, g, lr):\n  u = softsign(g, g)\n  return u\n")


def test_the_row_is_gone_after_the_test():
  assert fns.lookup("softsign") is None


BEGIN, END = "<!-- BEGIN FUNCTION TABLE -->\n", "<!-- END FUNCTION TABLE -->\n"


def test_docs_function_table_is_in_sync_with_the_table():
  doc = (REPO / "docs" / "language.md").read_text(encoding="utf-8")
  assert doc.count(BEGIN) == 1 and doc.count(END) == 1
  section = doc.split(BEGIN)[1].split(END)[0]
  assert section == function_table(), (
      "docs/language.md is out of date: replace the lines between the FUNCTION TABLE markers "
      "with the output of `python -m dsl functions`")
