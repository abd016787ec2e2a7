"""Programs as interpreter arrays: liveness across steps, registers, branch choice."""

import pytest

import dsl
from proxy_tasks import encoding
from proxy_tasks import interpreter as interp


def test_dead_statements_are_dropped_across_steps():
  program8 = dsl.library.load("program8")
  live = encoding.live_statements(program8)
  kept = {program8.statements[i].to_text() for i in live}
  assert "m = cosh(update)" not in kept      # m's incoming value is never read
  assert "v845 = tanh(v845)" not in kept and "lr = cos(v845)" not in kept
  assert "update = update + wd" in kept and "v = interp(g, m, 1.109133005142212)" in kept


def test_a_state_read_at_the_next_step_keeps_its_statements_alive():
  adamw = dsl.library.load("adamw")
  assert encoding.live_statements(adamw) == tuple(range(len(adamw.statements)))


def test_constants_get_one_register_each_and_branches_follow_types():
  program = dsl.parse("def train(w, g, m, lr):\n  n = norm(g)\n  a = g * 0.5\n"
                      "  b = a * 0.5\n  c = clip(b, lr)\n  u = c / n\n  return u, m\n")
  encoded = encoding.encode(program)
  assert [v for _, v in encoded.constants] == [0.5]
  norm_branch = interp.BRANCHES[encoded.code[0, 0]]
  assert norm_branch.function.name == "norm" and norm_branch.arg_types == (dsl.Type.TREE,)
  clip_branch = interp.BRANCHES[encoded.code[3, 0]]
  assert clip_branch.arg_types == (dsl.Type.TREE, dsl.Type.SCALAR)
  assert encoded.state_out[0] == interp.STATE_REGISTERS[0]


def test_invalid_programs_raise_program_errors():
  bad = dsl.Program(("w", "g", "lr"), (dsl.Statement("u", "*", ("g", "x")),), ("u",))
  with pytest.raises(dsl.ProgramError, match="undefined variable 'x'"):
    encoding.encode(bad)


def test_a_state_whose_next_value_only_dead_statements_make_is_left_alone():
  """`v7` feeds only state `v`, which nothing live reads: its statement is dead, so the state
  has no value to move (this was a KeyError, found by tests/proxy_tasks/test_evaluator_fuzz)."""
  import proxy_tasks  # pylint: disable=import-outside-toplevel
  from proxy_tasks import reference  # pylint: disable=import-outside-toplevel
  program = dsl.parse("def train(w, g, m, v, lr):\n  v7 = log(v)\n  m = interp(g, m, 0.9)\n"
                      "  u = m * lr\n  u = u * 0.1\n  return u, m, v7\n")
  encoded = encoding.encode(program)
  assert encoded.live == (1, 2, 3)
  task = proxy_tasks.get("quadratic", steps=10)
  result, = proxy_tasks.Evaluator(task, slots=1, normalize=False).evaluate([program])
  assert result.status == "ok"
  assert result.metric == pytest.approx(reference.metric(task, program), rel=1e-5)
