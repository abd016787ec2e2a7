"""Regularized evolution as pure steps: tournament, age-based removal, restarts, checkpoints."""

import collections
import math

import numpy as np
import pytest

import dsl
from search import analysis, evolution
from tests.search import fakes


def _member(i, fitness, program=None):
  program = program or dsl.library.load("adamw")
  return evolution.Member(i, program, f"k{i}", fitness)


def _started(population_size=5, repeats=1):
  state = evolution.new_state(seed=3, population_size=population_size)
  evolution.start(state, _member(0, 0.0), repeats)
  return state


def test_warm_start_fills_every_island_with_the_initial_program():
  state = _started(population_size=7, repeats=3)
  assert [len(i.members) for i in state.islands] == [7, 7, 7]
  assert all(m.id == 0 for m in evolution.population(state))
  assert state.scored == 1 and state.events == 1


def test_tournament_returns_the_fittest_of_the_sample():
  members = collections.deque(_member(i, float(i)) for i in range(10))
  rng = np.random.default_rng(0)
  for _ in range(50):
    state = rng.bit_generator.state
    winner = evolution.tournament(members, rng, 3)
    rng.bit_generator.state = state
    drawn = rng.integers(10, size=3)
    assert winner.fitness == max(members[int(i)].fitness for i in drawn)
  # Larger tournaments prefer fitter parents.
  wins = [evolution.tournament(members, rng, 5).fitness for _ in range(300)]
  assert np.mean(wins) > np.mean([m.fitness for m in members]) + 2


def test_absorb_removes_the_oldest_not_the_worst():
  state = _started(population_size=3)
  children = []
  for fitness in (5.0, -1.0, 2.0, 1.0):
    child = evolution.generate(state, analysis.text_key)
    children.append(child)
    evolution.absorb(state, child, fitness)
  members = state.islands[0].members
  assert [m.id for m in members] == [c.id for c in children[1:]]  # id 0 copies and child 1 left
  assert state.islands[0].best.fitness == 5.0  # the best is remembered after it aged out
  assert [m.fitness for m in members] == [-1.0, 2.0, 1.0]


def test_restart_from_the_best_after_no_improvement():
  state = _started(population_size=4)
  best = evolution.generate(state, analysis.text_key)
  evolution.absorb(state, best, 1.0, restart_after=3)
  for _ in range(2):
    evolution.absorb(state, evolution.generate(state, analysis.text_key), 0.5, restart_after=3)
  assert state.islands[0].restarts == 0
  evolution.absorb(state, evolution.generate(state, analysis.text_key), 0.5, restart_after=3)
  island = state.islands[0]
  assert island.restarts == 1 and island.since_improvement == 0
  assert [m.id for m in island.members] == [best.id] * 4


def test_failed_children_get_minus_infinity_and_are_counted():
  state = _started()
  member = evolution.absorb(state, evolution.generate(state, analysis.text_key), math.nan)
  assert member.fitness == -math.inf and state.failed == 1


def test_children_are_valid_and_depend_only_on_seed_id_and_population():
  a, b = _started(), _started()
  for _ in range(30):
    ca = evolution.generate(a, analysis.text_key, max_length=12)
    cb = evolution.generate(b, analysis.text_key, max_length=12)
    assert ca == cb and dsl.is_valid(ca.program) and len(ca.program.statements) <= 12
    evolution.absorb(a, ca, fakes.toy_fitness(ca.program))
    evolution.absorb(b, cb, fakes.toy_fitness(cb.program))
  other = evolution.new_state(seed=4, population_size=5)
  evolution.start(other, _member(0, 0.0), 1)
  assert [evolution.generate(other, analysis.text_key).program for _ in range(5)] != [
      evolution.generate(_started(), analysis.text_key).program for _ in range(5)]


def test_islands_take_turns():
  state = _started(repeats=3)
  assert [evolution.generate(state, analysis.text_key).island for _ in range(6)] == [
      1, 2, 0, 1, 2, 0]


def test_evolution_improves_on_the_warm_start():
  state = _started(population_size=20)
  initial = fakes.toy_fitness(state.initial.program)
  for _ in range(600):
    child = evolution.generate(state, analysis.text_key)
    evolution.absorb(state, child, fakes.toy_fitness(child.program))
  assert state.best.fitness > initial + 0.5
  assert evolution.statistics(state)["median_fitness"] > initial


def test_json_round_trip_keeps_everything():
  state = _started(population_size=6, repeats=2)
  for i in range(20):
    child = evolution.generate(state, analysis.text_key)
    if i % 4 == 0:
      continue  # left pending
    evolution.absorb(state, child, -math.inf if i == 5 else fakes.toy_fitness(child.program),
                     restart_after=5, top_k=3)
  again = evolution.from_json(evolution.to_json(state))
  assert evolution.to_json(again) == evolution.to_json(state)
  assert again.pending == state.pending and len(again.pending) == 5
  assert [list(i.members) for i in again.islands] == [list(i.members) for i in state.islands]
  assert [t[:3] for t in evolution.top(again)] == [t[:3] for t in evolution.top(state)]
  assert len(evolution.top(state)) == 3
  # Continuing either gives the same children.
  assert evolution.generate(again, analysis.text_key) == evolution.generate(state,
                                                                           analysis.text_key)


def _children(strategy, fitness, count=200, population_size=10, tournament_size=2):
  """The programs ``generate`` makes when each child is absorbed at once with ``fitness``."""
  state = _started(population_size=population_size)
  programs = []
  for _ in range(count):
    child = evolution.generate(state, analysis.text_key, tournament_size=tournament_size,
                               strategy=strategy)
    programs.append(child.program)
    evolution.absorb(state, child, fitness(child.program))
  return programs, state


def test_random_search_children_do_not_depend_on_fitness():
  # Fitness that rewards the toy target, its exact opposite, and a constant: selection would
  # make three different runs; random search makes one.
  rewarded, _ = _children("random", fakes.toy_fitness)
  punished, _ = _children("random", lambda p: -fakes.toy_fitness(p))
  flat, _ = _children("random", lambda p: 0.0)
  assert rewarded == punished == flat
  assert len(set(p.to_text() for p in rewarded)) > 100  # and it does move
  # The same check catches selection: evolution's children follow the fitness.
  assert _children("evolution", fakes.toy_fitness)[0] != _children(
      "evolution", lambda p: -fakes.toy_fitness(p))[0]


def test_random_search_ignores_the_tournament_size_and_finds_less_than_evolution():
  assert _children("random", fakes.toy_fitness, tournament_size=2)[0] == _children(
      "random", fakes.toy_fitness, tournament_size=5)[0]
  best = {strategy: _children(strategy, fakes.toy_fitness, count=600,
                             population_size=20)[1].best.fitness
          for strategy in ("evolution", "random")}
  assert best["evolution"] > best["random"]


def test_constant_tuning_keeps_the_structure_and_selects_the_constants():
  target = math.log10(0.02)

  def lr_fitness(program):  # best when AdamW's learning-rate constant (0.001) is 0.02
    lr_constant = program.statements[-2].args[1]
    return -abs(math.log10(lr_constant) - target)

  programs, state = _children("constants", lr_fitness, count=300, population_size=20)
  structure = dsl.structure_hash(state.initial.program)
  assert {dsl.structure_hash(p) for p in programs} == {structure}
  assert len({p.to_text() for p in programs}) > 250  # continuous constants: few twins
  assert state.best.fitness > -0.1  # found lr ~0.02 from 0.001 (fitness -1.3)
  assert evolution.generate(state, analysis.text_key, strategy="constants").mutation.startswith(
      "constant@")


def test_an_unknown_strategy_is_an_error():
  with pytest.raises(ValueError, match="unknown strategy 'annealing'"):
    evolution.generate(_started(), analysis.text_key, strategy="annealing")
