"""``python -m dsl export``: standalone optax modules equal ``dsl.to_optax``; LaTeX listings."""

import ast
import importlib.util
import io
import re
import sys

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import dsl
from dsl import functions as fns
from dsl import source_export
from dsl.__main__ import main

STEPS = 100
SCHEDULE = optax.warmup_cosine_decay_schedule(init_value=0.0, peak_value=1.0, warmup_steps=10,
                                              decay_steps=STEPS)
ALLOWED_IMPORTS = {"typing", "jax", "jax.numpy", "optax"}


def random_tree(rng, scale=1.0):
  """A dict holding a matrix and a tuple of a vector and a 0-d array, float32: few leaves, so
  that compiling stays quick, of every rank that matters."""
  tree = {"kernel": rng.standard_normal((4, 3)),
          "block": (rng.standard_normal(5), {"gain": rng.standard_normal(())})}
  return jax.tree.map(lambda x: jnp.asarray(scale * x, jnp.float32), tree)


def load_standalone(source, path, name):
  """Imports the module text ``source`` from ``path`` with optsearch's packages unimportable
  (``sys.modules[...] = None`` makes ``import dsl`` raise), then restores ``sys.modules``."""
  path.write_text(source, encoding="utf-8")
  blocked = {name: sys.modules.get(name) for name in ("dsl", "runlog", "search", "proxy_tasks",
                                                       "simplify", "meta_validation")}
  try:
    for package in blocked:
      sys.modules[package] = None
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
  finally:
    for package, module_before in blocked.items():
      if module_before is None:
        sys.modules.pop(package, None)
      else:
        sys.modules[package] = module_before
  return module


def imports_of(source):
  names = set()
  for node in ast.walk(ast.parse(source)):
    if isinstance(node, ast.Import):
      names.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      names.add(node.module)
  return names


def trajectories(ours, reference, params, gradients):
  """Both transformations over the same gradients, each from its own parameters (updates
  applied); one jitted function does a step of both (compiled once). Returns each one's
  updates at every step and final state."""

  @jax.jit
  def step(g, states, params):
    (u1, s1), (u2, s2) = ours.update(g, states[0], params[0]), reference.update(
        g, states[1], params[1])
    return (u1, u2), (s1, s2), (optax.apply_updates(params[0], u1),
                                optax.apply_updates(params[1], u2))

  states, params = (ours.init(params), reference.init(params)), (params, params)
  updates = []
  for g in gradients:
    pair, states, params = step(g, states, params)
    updates.append(pair)
  return updates, states


def assert_close(actual, expected, rtol=1e-6):
  """Relative agreement per leaf, zeros judged against the leaf's largest magnitude."""
  for a, e in zip(jax.tree.leaves(actual), jax.tree.leaves(expected), strict=True):
    a, e = np.asarray(a, np.float64), np.asarray(e, np.float64)
    assert a.shape == e.shape
    scale = float(np.max(np.abs(e[np.isfinite(e)]), initial=0.0))
    np.testing.assert_allclose(a, e, rtol=rtol, atol=rtol * scale)


def assert_same_optimizer(program, module, learning_rate, seed, steps=STEPS):
  rng = np.random.default_rng(seed)
  params = random_tree(rng)
  gradients = [random_tree(rng, 10.0 ** rng.uniform(-2, 1)) for _ in range(steps)]
  updates, (our_state, reference_state) = trajectories(
      module.optimizer(learning_rate), dsl.to_optax(program, learning_rate), params, gradients)
  for step, (a, e) in enumerate(updates):
    try:
      assert_close(a, e)
    except AssertionError as error:
      raise AssertionError(f"{program}: updates differ at step {step}") from error
  assert int(our_state.count) == int(reference_state.count) == steps
  assert our_state._fields == ("count", *module.State._fields[1:])
  assert_close(tuple(our_state[1:]), reference_state.states)


@pytest.mark.parametrize("name", dsl.library.names())
def test_every_built_in_program_exports_to_the_same_optimizer(name, tmp_path):
  program = dsl.library.load(name)
  source = source_export.optax_module(program, name, "a comment", "the command")
  assert imports_of(source) <= ALLOWED_IMPORTS
  assert not re.search(r"^\s*(import|from)\s+(dsl|optsearch|search)\b", source, re.M)
  module = load_standalone(source, tmp_path / f"exported_{name}.py", f"exported_{name}")
  assert program.to_text().splitlines()[1].strip() in module.optimizer.__doc__
  assert_same_optimizer(program, module, SCHEDULE, seed=len(name))


def _row_program(function):
  """A program calling ``function`` on trees (a scalar where the row wants one: the schedule
  value for ``interp``, so a traced scalar), on constants alone, and on a tree then constants
  (``dot(g, 0.25)``: a scalar repeated once per leaf)."""
  call = function.aliases[0] if function.symbol else function.name
  if not function.arity:
    return dsl.parse(f"def train(w, g, m, v, lr):\n  s = {call}()\n  return s, m, v\n")
  on_trees = [("lr" if function.name == "interp" else "0.3") if i in function.scalar_args
              else ["g", "m", "w"][i] for i in range(function.arity)]
  on_constants = ["0.5", "0.25", "0.75"][:function.arity]
  mixed = ["g", *on_constants[1:]]  # a tree first, constants after
  return dsl.parse(f"def train(w, g, m, v, lr):\n  s = {call}({', '.join(on_trees)})\n"
                   f"  c = {call}({', '.join(on_constants)})\n"
                   f"  x = {call}({', '.join(mixed)})\n  k = c * s\n  k = k + x\n"
                   "  return s, k, c\n")


# Program variables named like the module's own names, a state named like State's count.
CLASHES = """def train(w, g, count, jnp, lr):
  sign = sign(g)
  _x0 = jnp + sign
  jnp = interp(_x0, jnp, 0.9)
  count = count + 1.0
  optax = jnp * lr
  return optax, count, jnp
"""


def test_every_function_of_the_table_and_every_lifting(tmp_path):
  """Each row on trees, on scalars and mixed, and clashing names: the standalone ``train``
  against ``dsl.compile`` over 3 steps (states fed back), all in one jitted function."""
  programs = [_row_program(function) for function in fns.FUNCTIONS] + [dsl.parse(CLASHES)]
  modules = [load_standalone(source_export.optax_module(program, f"row{index}"),
                             tmp_path / f"row{index}.py", f"exported_row{index}")
             for index, program in enumerate(programs)]
  assert modules[-1].State._fields == ("count", "count_", "vjnp")
  steps = [dsl.compile(program) for program in programs]
  rng = np.random.default_rng(3)
  small_tree = lambda: {"a": jnp.asarray(rng.standard_normal(3), jnp.float32),  # quick to compile
                        "b": (jnp.asarray(rng.standard_normal(()), jnp.float32),)}
  w = small_tree()

  @jax.jit
  def both(g, states, lr):
    ours = [module.train(w, g, *state, lr) for module, state in zip(modules, states[0])]
    reference = [step(w, g, state, lr) for step, state in zip(steps, states[1])]
    return ours, reference

  states = ([dsl.init_states(p, w) for p in programs],) * 2
  for _ in range(3):
    ours, reference = both(small_tree(), states, 0.7)
    for program, a, (update, new_states) in zip(programs, ours, reference):
      try:
        assert_close(a, (update, *new_states))
      except AssertionError as error:
        raise AssertionError(f"differs on\n{program}") from error
    states = ([a[1:] for a in ours], [r[1] for r in reference])


def test_the_row_names_do_not_hide_the_table_s_helpers():
  helpers = {name for name in vars(fns) if name.startswith("_")}
  for function in fns.FUNCTIONS:
    name = source_export._identifier(function)  # pylint: disable=protected-access
    assert name not in helpers or function.source == name, function.name


def test_params_are_needed_only_by_programs_that_read_their_weights(tmp_path):
  for name, reads in (("lion", True), ("signum", False)):
    program = dsl.library.load(name)
    module = load_standalone(source_export.optax_module(program, name),
                             tmp_path / f"{name}.py", f"exported_params_{name}")
    optimizer = module.optimizer(1.0)
    params = random_tree(np.random.default_rng(0))
    state = optimizer.init(params)
    if reads:
      with pytest.raises(ValueError, match="reads its weights 'weight'"):
        optimizer.update(params, state)
    else:
      updates, _ = optimizer.update(params, state)
      expected, _ = dsl.to_optax(program, 1.0).update(params, dsl.to_optax(program).init(params))
      assert_close(updates, expected)


def _balanced(text):
  depth = 0
  for char in re.sub(r"\\[{}]", "", text):
    depth += {"{": 1, "}": -1}.get(char, 0)
    if depth < 0:
      return False
  return depth == 0


@pytest.mark.parametrize("name", dsl.library.names())
def test_latex_has_one_state_per_statement(name):
  program = dsl.library.load(name)
  text = source_export.latex(program, name)
  assert _balanced(text)
  environments = re.findall(r"\\(begin|end)\{(\w+)\}", text)
  assert environments == [("begin", "algorithm"), ("begin", "algorithmic"),
                          ("end", "algorithmic"), ("end", "algorithm")]
  assert text.count(r"\While{") == text.count(r"\EndWhile") == 1
  commented = re.findall(r"^\s*\\State \$.*\$  % (.*)$", text, re.M)
  assert commented == [s.to_text() for s in program.statements] + ["the update is subtracted"]
  assert all(line.count("$") % 2 == 0 for line in text.splitlines() if not line.startswith("%"))


def test_lion_in_latex_reads_like_the_paper():
  text = source_export.latex(dsl.library.load("lion"), "lion")
  assert r"\textbf{given} $\beta_{1} = 0.9$, $\beta_{2} = 0.99$" in text
  assert (r"\State $\mathit{update} \gets (1 - \beta_{1})\, g_t + \beta_{1}\, "
          r"\mathit{momentum}_{t-1}$" in text)
  assert r"\State $\mathit{update} \gets \operatorname{sign}(\mathit{update})$" in text
  assert (r"\State $\mathit{momentum}_t \gets (1 - \beta_{2})\, g_t + \beta_{2}\, "
          r"\mathit{momentum}_{t-1}$" in text)
  assert r"\mathit{weight\_decay} \gets \theta_{t-1} \cdot 0.1$" in text
  assert r"\State $\theta_t \gets \theta_{t-1} - \mathit{update}$" in text


def _cli(*argv):
  out, err = io.StringIO(), io.StringIO()
  return main([str(a) for a in argv], out, err), out.getvalue(), err.getvalue()


def test_cli_writes_the_module_and_prints_latex(tmp_path):
  lion = dsl.library.path("lion")
  status, out, err = _cli("export", lion, "--format", "optax", "-o", tmp_path / "lion_optax.py")
  assert (status, err) == (0, "") and out == f"wrote {tmp_path / 'lion_optax.py'}\n"
  written = (tmp_path / "lion_optax.py").read_text()
  assert written == source_export.optax_module(
      dsl.library.load("lion"), "lion", "Lion (Program 1 of Chen et al., 2023, \"Symbolic "
      "Discovery of Optimization Algorithms\"),\nbeta1 = 0.9, beta2 = 0.99, decoupled weight "
      "decay 0.1, peak learning rate 1e-4.", "python -m dsl export lion.py --format optax")
  compile(written, "lion_optax.py", "exec")
  status, out, err = _cli("export", lion, "--format", "latex")
  assert (status, err) == (0, "") and out == source_export.latex(dsl.library.load("lion"), "lion")
  status, out, _ = _cli("export", lion)
  assert status == 0 and out == written


def test_cli_bad_input_is_one_line(tmp_path):
  bad = tmp_path / "bad.py"
  bad.write_text("def train(w, g, lr):\n  u = sine(g)\n  return u\n")
  cases = [(["export", bad], f"{bad}:2:"),
           (["export", tmp_path / "missing.py"], f"{tmp_path / 'missing.py'}: cannot read"),
           (["export", dsl.library.path("lion"), "-o", tmp_path / "no" / "x.py"],
            "-o directory"),
           (["export", bad, "-o", bad], "would overwrite the input program")]
  for argv, expected in cases:
    status, out, err = _cli(*argv)
    assert status == 2 and out == "" and len(err.splitlines()) == 1 and expected in err, err
  assert "sine" in bad.read_text()
  with pytest.raises(SystemExit) as exit_info:
    _cli("export", bad, "--format", "pdf")
  assert exit_info.value.code == 2
