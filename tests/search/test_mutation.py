"""search.mutation: the paper's three mutations, valid children only, reproducible draws."""

import hypothesis
import hypothesis.strategies as st
import numpy as np
import pytest

import dsl
from search import mutation

ADAMW = dsl.library.load("adamw")


def _only(kind):
  return {k: (1.0 if k == kind else 0.0) for k in mutation.MUTATIONS}


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(st.integers(0, 2**32 - 1))
def test_each_kind_changes_what_it_says_and_children_are_valid(seed):
  rng = np.random.default_rng(seed)
  parent = mutation.random_program(rng, num_states=2, length=6)
  n = len(parent.statements)
  inserted, how = mutation.mutate(parent, rng, _only("insert"))
  assert how.kind == "insert" and len(inserted.statements) == n + 1
  assert inserted.statements[:how.index] + inserted.statements[how.index + 1:] == parent.statements
  deleted, how = mutation.mutate(parent, rng, _only("delete"))
  assert how.kind == "delete" and len(deleted.statements) == n - 1
  assert deleted.statements == parent.statements[:how.index] + parent.statements[how.index + 1:]
  modified, how = mutation.mutate(parent, rng, _only("modify"))
  changed = [i for i, (a, b) in enumerate(zip(modified.statements, parent.statements)) if a != b]
  assert how.kind == "modify" and len(modified.statements) == n and changed in ([], [how.index])
  if changed:  # one argument, same function and target (a redraw may give the same value)
    new, old = modified.statements[how.index], parent.statements[how.index]
    assert (new.function, new.target) == (old.function, old.target)
    assert sum(a != b for a, b in zip(new.args, old.args)) == 1
  for child in (inserted, deleted, modified):
    assert dsl.is_valid(child)


def test_the_same_generator_state_gives_the_same_child():
  children = [mutation.mutate(ADAMW, np.random.default_rng([7, 3]))[0] for _ in range(2)]
  assert children[0] == children[1]


@hypothesis.settings(max_examples=50, deadline=None)
@hypothesis.given(st.lists(st.floats(0.01, 10.0), min_size=1, max_size=5),
                  st.integers(0, 2**32 - 1))
def test_kinds_are_drawn_as_rng_choice_would_draw_them(weights, seed):
  """The bisect over cumulative weights reads the stream as ``rng.choice(p=...)`` does, so
  runs recorded before the change replay child for child."""
  probabilities = np.array(weights) / np.sum(weights)
  expected_rng, drawn_rng = np.random.default_rng(seed), np.random.default_rng(seed)
  cumulative = mutation.cumulative_weights(weights)
  for _ in range(20):
    assert mutation.draw_index(drawn_rng, cumulative) == expected_rng.choice(
        len(weights), p=probabilities)
  assert drawn_rng.random() == expected_rng.random()  # the streams are still in step


def test_max_length_and_weights_are_respected():
  rng = np.random.default_rng(0)
  program = ADAMW
  for _ in range(40):
    program, how = mutation.mutate(program, rng, {"insert": 5.0, "delete": 1.0}, max_length=12)
    assert len(program.statements) <= 12 and how.kind in ("insert", "delete")
  with pytest.raises(ValueError, match="mutation weights"):
    mutation.mutate(ADAMW, rng, {"swap": 1.0})
  with pytest.raises(ValueError, match="mutation weights"):
    mutation.mutate(ADAMW, rng, {"insert": 0.0})


def test_no_valid_child_is_an_error_not_a_hang():
  empty = dsl.parse("def train(w, g, lr):\n  return g\n")
  with pytest.raises(RuntimeError, match="no valid child"):
    mutation.mutate(empty, np.random.default_rng(0), _only("delete"), max_tries=50)


@hypothesis.settings(max_examples=60, deadline=None)
@hypothesis.given(st.integers(0, 2**32 - 1))
def test_a_constant_mutation_changes_one_constant_and_never_the_structure(seed):
  rng = np.random.default_rng(seed)
  parent = mutation.random_program(rng, num_states=2, length=8)
  hypothesis.assume(mutation.constant_slots(parent))
  child, how = mutation.mutate_constant(parent, rng)
  assert how.kind == "constant" and dsl.is_valid(child)
  assert dsl.structure_hash(child) == dsl.structure_hash(parent)
  changed = [(i, j) for i, (a, b) in enumerate(zip(child.statements, parent.statements))
             for j, (x, y) in enumerate(zip(a.args, b.args)) if x != y]
  assert [i for i, _ in changed] in ([], [how.index])  # 2^a may round to 1 (a ~ 0)
  for i, j in changed:
    old, new = parent.statements[i].args[j], child.statements[i].args[j]
    assert isinstance(old, float) and isinstance(new, float) and np.sign(new) == np.sign(old)
    assert (child.statements[i].function, child.statements[i].target) == (
        parent.statements[i].function, parent.statements[i].target)


def test_constant_mutations_of_adamw_reach_every_constant_in_log_steps():
  rng = np.random.default_rng(0)
  constants = {(i, j): a for i, s in enumerate(ADAMW.statements) for j, a in enumerate(s.args)
               if isinstance(a, float)}
  moved, ratios = set(), []
  for _ in range(200):
    child, how = mutation.mutate_constant(ADAMW, rng)
    for (i, j), old in constants.items():
      new = child.statements[i].args[j]
      if new != old:
        moved.add((i, j))
        ratios.append(np.log2(new / old))
  assert moved == set(constants)  # 0.9, 0.999, 0.01 and 0.001 all move
  assert abs(np.mean(ratios)) < 0.25 and 0.8 < np.std(ratios) < 1.2  # a ~ N(0, 1)


def test_a_program_without_constants_cannot_be_tuned():
  bare = dsl.parse("def train(w, g, lr):\n  u = g * lr\n  return u\n")
  assert mutation.constant_slots(bare) == []
  with pytest.raises(ValueError, match="no nonzero constant"):
    mutation.mutate_constant(bare, np.random.default_rng(0))
