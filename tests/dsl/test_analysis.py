"""Dependency tracking, cross-step liveness and pruning (dsl.analysis)."""

import hypothesis
import hypothesis.strategies as st
import jax
import numpy as np
import pytest

import dsl
from dsl import analysis
from dsl.program import ProgramError, Type, abstract_execution, param_ref
from search.mutation import mutate, random_program


def _statement_texts(program, indices):
  return [program.statements[i].to_text() for i in indices]


def test_program8_redundant_statements_are_the_papers_eight_plus_cosh():
  program8 = dsl.library.load("program8")
  redundant = dsl.redundant_statements(program8)
  assert redundant == (1, 2, 3, 4, 9, 15, 17, 18, 20)
  # The eight the paper removes to get Program 4 (Chen et al., 2023), and, through cross-step
  # liveness, "m = cosh(update)": the incoming m is only read by "m = clip(m, lr)", dead.
  assert _statement_texts(program8, redundant) == [
      "m = clip(m, lr)", "v845 = sqrt(0.6270633339881897)", "v968 = sign(v)", "v968 = v - v",
      "v845 = tanh(v845)", "v1 = square(v1)", "m = cosh(update)",
      "lr = tan(1.4572199583053589)", "lr = cos(v845)"]
  assert dsl.effective_states(program8) == 1
  assert analysis.analyze(program8).live_states == (1,)


def test_program4_keeps_one_state_like_lion():
  program4 = dsl.library.load("program4")
  assert _statement_texts(program4, dsl.redundant_statements(program4)) == ["m = cosh(update)"]
  assert dsl.effective_states(program4) == 1
  assert analysis.analyze(program4).live_states == (1,)  # v, not m


@pytest.mark.parametrize("text,states", [
    # read by the update, never written: zeros for ever, a constant
    ("def train(w, g, v, lr):\n  d = lr - v\n  u = g * d\n  return u, v\n", 0),
    # two such states swapped each step: still zeros
    ("def train(w, g, m, v, lr):\n  d = m + v\n  u = g * d\n  return u, v, m\n", 0),
    # the state remembers last step's gradient: memory, though no statement assigns it
    ("def train(w, g, m, lr):\n  u = g * m\n  return u, g\n", 1),
    # one written, one handed the written one's old value: both memory
    ("def train(w, g, m, v, lr):\n  m = m + g\n  u = v * g\n  return u, m, m\n", 2),
])
def test_a_state_nothing_writes_is_a_constant_not_memory(text, states):
  program = dsl.parse(text)
  assert analysis.analyze(program).live_states != ()
  assert dsl.effective_states(program) == states


@pytest.mark.parametrize("name,states", [("adamw", 2), ("lion", 1), ("sgd", 0),
                                         ("sgd_momentum", 1), ("signum", 1)])
def test_builtin_programs_have_no_redundancy(name, states):
  program = dsl.library.load(name)
  assert dsl.redundant_statements(program) == ()
  assert dsl.effective_states(program) == states
  assert dsl.prune(program) == program


def test_prune_program8_gives_program4_without_cosh():
  program8 = dsl.library.load("program8")
  pruned = dsl.prune(program8)
  assert pruned.params == program8.params
  assert len(pruned.statements) == len(program8.statements) - 9
  assert pruned.returns == ("update", "m", "v")
  # m is returned unchanged: its reuse as a temporary is renamed.
  assert all(s.target != "m" for s in pruned.statements)
  assert "m_1 = interp(g, v, 0.8999999761581421)" in pruned.to_text()
  assert dsl.redundant_statements(pruned) == ()
  assert dsl.effective_states(pruned) == 1
  assert dsl.semantic_hash(pruned) == dsl.semantic_hash(program8)
  assert dsl.prune(pruned) == pruned


def test_self_feeding_state_is_dead():
  program = dsl.parse("def train(w, g, m, lr):\n  m = m + g\n  update = g * lr\n"
                      "  return update, m\n")
  assert dsl.redundant_statements(program) == (0,)
  assert dsl.effective_states(program) == 0
  assert dsl.prune(program).to_text() == ("def train(w, g, m, lr):\n  update = g * lr\n"
                                          "  return update, m\n")


def test_state_chain_liveness_reaches_through_states():
  # update <- s <- m <- g: both states are live, though the update reads only s.
  program = dsl.parse("def train(w, g, m, s, lr):\n  m2 = m + g\n  s2 = s + m\n"
                      "  update = s * lr\n  return update, m2, s2\n")
  assert dsl.redundant_statements(program) == ()
  assert dsl.effective_states(program) == 2


def test_update_may_be_a_parameter():
  program = dsl.parse("def train(w, g, m, lr):\n  m = cosh(g)\n  return m, m\n")
  assert dsl.redundant_statements(program) == ()
  program = dsl.parse("def train(w, g, m, lr):\n  x = cosh(g)\n  return m, m\n")
  assert dsl.redundant_statements(program) == (0,)
  assert dsl.effective_states(program) == 0  # m is read (by the update) but stays zero: a constant


def test_overwritten_before_read_is_redundant():
  program = dsl.parse("def train(w, g, lr):\n  u = g * 2.0\n  u = g * lr\n  return u\n")
  assert dsl.redundant_statements(program) == (0,)


def test_invalid_program_raises_program_error():
  bad = dsl.Program(("w", "g", "lr"), (dsl.Statement("u", "sin", ("nope",)),), ("u",))
  for function in (dsl.redundant_statements, dsl.prune, dsl.effective_states):
    with pytest.raises(ProgramError, match="undefined variable 'nope'"):
      function(bad)


def test_abstract_execution_links_each_read_to_its_definition():
  program = dsl.parse("def train(w, g, m, lr):\n  m = interp(g, m, 0.9)\n  u = m * lr\n"
                      "  return u, m\n")
  execution = abstract_execution(program)
  assert execution.sources == ((param_ref(1), param_ref(2), 0.9), (0, param_ref(3)))
  assert execution.outputs == (1, 0)
  assert execution.types == (Type.TREE, Type.TREE)


def _programs(seed, count=1):
  """Random programs and mutated built-ins (what a search produces)."""
  rng = np.random.default_rng(seed)
  out = []
  for _ in range(count):
    if rng.random() < 0.5:
      program = random_program(rng, int(rng.integers(0, 5)), int(rng.integers(3, 25)))
    else:
      program = dsl.library.load(str(rng.choice(["adamw", "lion", "program8", "tiger"])))
    for _ in range(int(rng.integers(0, 8))):
      program, _ = mutate(program, rng)
    out.append(program)
  return out


@hypothesis.settings(max_examples=150, deadline=None)
@hypothesis.given(st.integers(0, 2**32 - 1))
def test_prune_is_valid_idempotent_hash_preserving_and_minimal(seed):
  (program,) = _programs(seed)
  pruned = dsl.prune(program)
  assert dsl.is_valid(pruned)
  assert pruned.params == program.params
  assert dsl.prune(pruned) == pruned
  assert dsl.redundant_statements(pruned) == ()
  assert dsl.semantic_hash(pruned) == dsl.semantic_hash(program)
  assert dsl.effective_states(pruned) == dsl.effective_states(program)
  assert len(pruned.statements) == len(program.statements) - len(
      dsl.redundant_statements(program))


def _run(program, steps=3):
  """Updates of ``program`` over a few steps on fixed inputs (the compiled step, un-jitted)."""
  step = dsl.compile(program)
  rng = np.random.default_rng(0)
  w = {"a": rng.normal(size=(3,)).astype(np.float32), "b": rng.normal(size=(2, 2)).astype(
      np.float32)}
  states = dsl.init_states(program, w)
  updates = []
  with jax.disable_jit():
    for t in range(steps):
      g = jax.tree.map(lambda x: x * (t + 1.0) * 0.3 - 0.1, w)
      update, states = step(w, g, states, 0.5 + 0.2 * t)
      updates.append(np.concatenate([np.ravel(x) for x in jax.tree.leaves(update)]))
  return np.stack(updates)


@pytest.mark.parametrize("seed", range(12))
def test_pruned_program_computes_the_same_updates(seed):
  for program in _programs(1000 + seed, count=2):
    pruned = dsl.prune(program)
    np.testing.assert_array_equal(_run(pruned), _run(program))


def test_run_tells_programs_apart():
  # The check above can fail: rewiring one live statement of AdamW changes what it computes.
  adamw = dsl.library.load("adamw")
  wd_free = dsl.parse(adamw.to_text().replace("update = update + wd", "update = update + g"))
  assert not np.array_equal(_run(wd_free), _run(adamw))


@hypothesis.settings(max_examples=100, deadline=None)
@hypothesis.given(st.integers(0, 2**32 - 1))
def test_memoised_analysis_is_the_fresh_one_and_not_part_of_the_value(seed):
  import pickle  # pylint: disable=import-outside-toplevel
  (program,) = _programs(seed)
  fresh = dsl.parse(program.to_text())  # an equal program that was never analysed
  first = analysis.analyze(program)
  assert program.memo("abstract_execution") is not None and program.memo("liveness")
  assert analysis.analyze(program) == first  # from the memo
  assert analysis.analyze(fresh)[1:] == first[1:]  # computed anew: the same facts
  assert fresh == program and hash(fresh) == hash(program)
  copied = pickle.loads(pickle.dumps(program))  # what workers and checkpoints receive
  assert copied == program and copied.memo("abstract_execution") is None
  assert set(copied.__dict__) == {"params", "statements", "returns", "lines"}


def test_memo_does_not_survive_replace_and_invalid_programs_keep_raising():
  program = dsl.library.load("adamw")
  analysis.analyze(program)
  child = program.replace(statements=program.statements[1:])  # a new value: nothing memoised
  assert child.memo("liveness") is None
  broken = program.replace(statements=(dsl.Statement("x", "sqrt", ("nope",)),)
                           + program.statements)
  for _ in range(2):  # an error is not memoised
    with pytest.raises(ProgramError, match="undefined variable 'nope'"):
      analysis.analyze(broken)
  assert broken.memo("abstract_execution") is None
