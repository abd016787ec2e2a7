"""Each exact rule: it applies where it should, gives the expected form, keeps the function."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import dsl
from simplify import rules
from simplify.expression import Graph
from simplify.rewrite import rewrite, step

_BY_NAME = {rule.name: rule for rule in rules.RULES}


def _program(body: str, params: str = "w, g, lr", returns: str = "update") -> dsl.Program:
  lines = "\n".join(f"  {line.strip()}" for line in body.strip().splitlines())
  return dsl.parse(f"def train({params}):\n{lines}\n  return {returns}\n")


def _apply_only(rule_name: str, program: dsl.Program) -> dsl.Program:
  """The program after applying ``rule_name`` (and only it) to a fixed point."""
  applications = rewrite(Graph.of(program), (_BY_NAME[rule_name],))
  assert applications, f"{rule_name} did not apply to\n{program}"
  return applications[-1].program


def _functions(program: dsl.Program) -> list[str]:
  return [s.function for s in program.statements]


CASES = {
    "fold_constants": ("c = tan(1.4572199583053589)\nupdate = g * c", "update = g * 8.9", 1),
    "drop_identity": ("u = g * 1.0\nu = u + 0.0\nu = negative(u)\nupdate = negative(u)",
                      None, 0),
    "sqrt_of_square": ("s = g * g\nupdate = sqrt(s)", None, 1),
    "sign_of_ratio": ("a = abs(g)\nupdate = g / a", None, 1),
    "sign_drops_positive_scale": ("u = g * 3.0\nupdate = sign(u)", None, 1),
    "merge_interpolations": ("u = interp(g, w, 0.9)\nupdate = interp(g, u, 1.1)", None, 1),
    "collect_scalars": ("s = lr * 0.1\nu = g * s\nu = u * 0.5\nupdate = u / w", None, 4),
    "factor_common_scale": ("s = lr * 0.1\na = g * s\nt = s * 0.3\nb = w * t\nupdate = a + b",
                            None, 5),
}


@pytest.mark.parametrize("rule_name", sorted(CASES))
def test_every_rule_keeps_the_functional_fingerprint(rule_name):
  body, _, _ = CASES[rule_name]
  program = _program(body)
  rewritten = _apply_only(rule_name, program)
  assert dsl.semantic_hash(rewritten) != dsl.semantic_hash(program)
  assert dsl.functional_fingerprint(rewritten) == dsl.functional_fingerprint(program)


def test_every_rule_has_a_case():
  assert set(CASES) == set(_BY_NAME)


def test_fold_constants():
  program = _apply_only("fold_constants", _program(CASES["fold_constants"][0]))
  assert len(program.statements) == 1
  assert program.statements[0].args[1] == pytest.approx(np.tan(1.4572199583053589))


def test_fold_constants_never_folds_a_nan():
  program = _program("c = arcsin(2.0)\nupdate = g * c")
  assert step(Graph.of(program), (_BY_NAME["fold_constants"],)) is None


def test_drop_identity_removes_every_identity():
  program = _apply_only("drop_identity", _program(CASES["drop_identity"][0]))
  assert program.statements == () and program.returns == ("g",)


def test_sqrt_of_square_gives_abs():
  assert _functions(_apply_only("sqrt_of_square", _program(CASES["sqrt_of_square"][0]))) == [
      "abs"]
  square = _program("s = square(g)\nupdate = sqrt(s)")
  assert _functions(_apply_only("sqrt_of_square", square)) == ["abs"]


def test_sign_of_ratio_both_ways():
  assert _functions(_apply_only("sign_of_ratio", _program("a = abs(g)\nupdate = g / a"))) == [
      "sign"]
  assert _functions(_apply_only("sign_of_ratio", _program("a = abs(g)\nupdate = a / g"))) == [
      "sign"]
  other = _program("a = abs(w)\nupdate = g / a")
  assert step(Graph.of(other), (_BY_NAME["sign_of_ratio"],)) is None


def test_paper_sign_idiom_becomes_sign():
  program = _program("m2 = g * g\nabs_m = sqrt(m2)\nupdate = g / abs_m")
  final = rewrite(Graph.of(program))[-1].program
  assert _functions(final) == ["sign"]
  assert dsl.functional_fingerprint(final) == dsl.functional_fingerprint(program)


def test_sign_keeps_a_negative_scale():
  negative = _program("u = g * -3.0\nupdate = sign(u)")
  assert step(Graph.of(negative), (_BY_NAME["sign_drops_positive_scale"],)) is None
  symbolic = _program("u = g * lr\nupdate = sign(u)")  # lr's sign is not known
  assert step(Graph.of(symbolic), (_BY_NAME["sign_drops_positive_scale"],)) is None


def test_collect_scalars_gives_core_times_lr_times_constant():
  program = _apply_only("collect_scalars", _program(CASES["collect_scalars"][0]))
  assert program.to_text().splitlines()[1:] == [
      "  update = g / w", "  lr = lr * 0.05", "  update = update * lr", "  return update"]


def test_collect_scalars_leaves_the_canonical_form_alone():
  program = dsl.library.load("adamw")
  assert step(Graph.of(program), (_BY_NAME["collect_scalars"],)) is None


def test_factor_common_scale_cancels_shared_constants_exactly():
  program = _apply_only("factor_common_scale", _program(CASES["factor_common_scale"][0]))
  # 0.3 exactly, not (0.1 * 0.3) / 0.1; the shared scale lr * 0.1 outermost.
  assert program.to_text().splitlines()[1:] == [
      "  s = lr * 0.1", "  wd = w * 0.3", "  update = g + wd", "  update = update * s",
      "  return update"]


@pytest.mark.parametrize("body,expected", [
    ("u = interp(g, w, 0.9)\nupdate = interp(g, u, 1.1)", 0.9 * 1.1),
    ("u = interp(w, g, 0.9)\nupdate = interp(g, u, 1.1)", (1 - 0.9) * 1.1),
    ("u = interp(g, w, 0.9)\nupdate = interp(u, g, 0.3)", 0.9 * (1 - 0.3)),
])
def test_merge_interpolations_weights(body, expected):
  program = _apply_only("merge_interpolations", _program(body))
  (merged,) = [s for s in program.statements if s.function == "interp"]
  assert merged.args[:2] == ("g", "w")
  assert merged.args[2] == pytest.approx(expected, rel=1e-15)


def test_merge_needs_the_same_shared_value():
  program = _program("u = interp(g, w, 0.9)\nupdate = interp(w, u, 1.1)")
  # interp(w, interp(g, w, a), b) shares w: it merges, into interp(w, g, ...).
  merged = _apply_only("merge_interpolations", program)
  assert dsl.functional_fingerprint(merged) == dsl.functional_fingerprint(program)
  unrelated = _program("u = interp(g, w, 0.9)\nv = sign(g)\nupdate = interp(v, u, 1.1)")
  assert step(Graph.of(unrelated), (_BY_NAME["merge_interpolations"],)) is None


def _updates(program: dsl.Program, steps: int, seed: int) -> np.ndarray:
  """The update sequence of ``program`` (the reference compiler, float32) on random inputs."""
  rng = np.random.default_rng(seed)
  params = {"a": jnp.zeros((7,)), "b": jnp.zeros((3, 4))}
  states = dsl.init_states(program, params)
  run = jax.jit(dsl.compile(program))
  out = []
  for t in range(steps):
    w = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape), jnp.float32), params)
    g = jax.tree.map(lambda x: jnp.asarray(rng.normal(size=x.shape) * 10.0 ** rng.uniform(-3, 1),
                                           jnp.float32), params)
    update, states = run(w, g, states, jnp.float32(0.1 + 0.9 * rng.random()))
    out.append(np.concatenate([np.ravel(x) for x in jax.tree.leaves(update)]))
  return np.stack(out)


def test_merged_program8_produces_the_same_update_sequence():
  """The real proof of the merge: the same updates, step by step, over many steps."""
  raw = dsl.library.load("program8")
  merged = rewrite(Graph.of(dsl.prune(raw)))[-1].program
  assert merged.num_states == 1
  for seed in range(2):
    expected, got = _updates(raw, 60, seed), _updates(merged, 60, seed)
    # sign() of the same momentum: equal except where m is within rounding of 0.
    agree = np.isclose(expected, got, rtol=1e-4, atol=1e-9)
    assert agree.mean() > 0.995, agree.mean()


def test_merge_alone_is_exact_over_many_steps():
  """Two interpolations relaying one state give one EMA: same values to float32 rounding."""
  relay = dsl.parse("def train(w, g, m, v, lr):\n  m = interp(g, v, 0.9)\n"
                    "  v = interp(g, m, 1.109)\n  update = m * lr\n  return update, m, v\n")
  merged = _apply_only("merge_interpolations", relay)
  assert dsl.effective_states(merged) == 1
  np.testing.assert_allclose(_updates(merged, 80, 3), _updates(relay, 80, 3), rtol=2e-4,
                             atol=1e-7)
