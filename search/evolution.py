"""Regularized evolution as a state and pure step functions (no I/O, no workers, no clocks).

Real et al. (2019), "Regularized Evolution for Image Classifier Architecture Search", as used by
Chen et al. (2023, Section 2): a population of ``P`` programs; each step samples ``T`` members
uniformly at random, mutates the fittest of them once, appends the child and removes the
OLDEST member (age, not fitness, decides who leaves: the regularization). The search runs
``R`` independent populations ("islands", the paper's repeats), all warm-started with ``P``
copies of the initial program, and an island whose best fitness has not improved for
``restart_after`` children restarts from its best program (``P`` copies of it).

The steady-state, asynchronous version: ``generate`` makes a child from the island's CURRENT
population as soon as a worker is free; the child joins (``absorb``) when its fitness arrives,
which may be after other children joined. Every random draw for child ``n`` comes from
``numpy.random.default_rng([seed, n])`` (a counter-based stream), so a child depends only on the
seed, its id and the population it was drawn from: the run is a function of the seed and of the
ORDER in which fitnesses are absorbed. With one worker holding one batch that order is fixed,
and the same config and seed give the same run, also across a crash and a resume.

``to_json`` / ``from_json`` give the whole state as plain JSON (programs as text), which is
the checkpoint in the run folder.

Strategies (``evolution.strategy``; the controls of Chen et al., 2023, Figure 2): the same
state, budget, cache and bookkeeping, only the making of a child differs:

* ``evolution``: as above, parent = tournament winner, one of the three mutations;
* ``random``: random search, no selection: the parent is a member drawn uniformly (a
  tournament of one) and the child gets one of the same three mutations; with restarts off
  (``config`` requires ``restart_after: 0``: a restart copies the best, which is selection)
  each island is a neutral random walk of the mutation operators from the warm start. Why
  this and not "the warm start mutated k times, k drawn": every program it makes is a chain
  of mutations from the warm start whose length is set by the same population dynamics
  (population size, age-based removal, the budget) as evolution's, so the depth of the space
  it samples matches evolution's at every point of the run without a k to choose, and the
  one thing that differs between the two arms is whether fitness picks the parent. Fitness
  decides nothing here: given the seed and the order results come back, the children are
  the same whatever their fitnesses (tested); the best program is still tracked, to be
  reported;
* ``constants``: constant-only tuning: evolution (tournament, restarts) whose one mutation
  is ``mutation.mutate_constant``: a constant of the parent times 2^a, a ~ N(0, 1). Every
  program shares the warm start's structure (``dsl.structure_hash``); what it can reach is
  the warm start (AdamW) at other constants (learning rate, weight decay, betas).
"""

from __future__ import annotations

import collections
import dataclasses
import heapq
import math
from typing import Any, Callable, Iterable, Mapping

import numpy as np

import dsl
from dsl.files import json_float
from dsl.program import Program
from dsl.scores import ranked_fitness
from search import mutation

INITIAL_ID = 0  # the warm-start program is child 0 of the run
STRATEGIES = ("evolution", "random", "constants")


@dataclasses.dataclass(frozen=True)
class Member:
  """A scored program. Copies of one program (warm start, restarts) share one ``Member``."""
  id: int
  program: Program
  key: str            # the fitness-cache key (semantic hash) of ``program``
  fitness: float      # higher is better; -inf for a failed evaluation
  redundant: float | None = None  # fraction of statements that cannot affect the update


@dataclasses.dataclass(frozen=True)
class Child:
  """A generated program waiting for its fitness."""
  id: int
  island: int
  parent: int
  mutation: str
  program: Program
  key: str
  redundant: float | None = None


@dataclasses.dataclass
class Island:
  """One independent population: ``members`` oldest first."""
  members: collections.deque
  best: Member
  since_improvement: int = 0
  restarts: int = 0


@dataclasses.dataclass
class SearchState:
  """Everything a search needs to go on: saved in every checkpoint."""
  seed: int
  population_size: int
  islands: list[Island] = dataclasses.field(default_factory=list)
  initial: Member | None = None
  next_id: int = INITIAL_ID + 1
  pending: dict[int, Child] = dataclasses.field(default_factory=dict)
  generated: int = 0   # children made (each is scored or resolved from the cache)
  scored: int = 0      # fitnesses computed by workers (the warm start included)
  cached: int = 0      # children that took the fitness of an identical program
  failed: int = 0      # scored with a non-finite fitness
  events: int = 0      # events absorbed (the checkpoint covers the event log up to here)
  top: list[tuple[float, int, str, str]] = dataclasses.field(default_factory=list)  # min-heap

  @property
  def best(self) -> Member | None:
    members = [island.best for island in self.islands]
    return max(members, key=lambda m: m.fitness) if members else self.initial

  @property
  def restarts(self) -> int:
    return sum(island.restarts for island in self.islands)


def new_state(seed: int, population_size: int) -> SearchState:
  return SearchState(seed=seed, population_size=population_size)


def start(state: SearchState, initial: Member, repeats: int) -> None:
  """Warm start: every island is ``population_size`` copies of the scored ``initial``."""
  state.initial = initial
  state.islands = [Island(collections.deque([initial] * state.population_size), initial)
                   for _ in range(repeats)]
  state.events += 1
  state.scored += 1
  state.failed += not math.isfinite(initial.fitness)
  _remember_top(state, initial, top_k=None)


def child_rng(seed: int, child_id: int) -> np.random.Generator:
  """The random stream of child ``child_id`` (counter-based: no state to checkpoint)."""
  return np.random.default_rng([seed, child_id])


def tournament(members: collections.deque, rng: np.random.Generator, size: int) -> Member:
  """The fittest of ``size`` members drawn uniformly with replacement (Real et al., 2019,
  Algorithm 1); ties go to the first drawn."""
  draws = rng.integers(len(members), size=size)
  best = members[int(draws[0])]
  for index in draws[1:]:
    candidate = members[int(index)]
    if candidate.fitness > best.fitness:
      best = candidate
  return best


def generate(state: SearchState, key: Callable[[Program], str],
             weights: Mapping[str, float] = mutation.DEFAULT_WEIGHTS, max_length: int = 30,
             tournament_size: int = 2,
             redundant: Callable[[Program], float | None] = lambda p: None,
             strategy: str = "evolution") -> Child:
  """The next child: island ``id mod R``, a parent, one mutation, its cache key.

  The parent and mutation depend on ``strategy`` (module docstring): ``evolution``, a
  tournament of ``tournament_size`` and ``mutation.mutate``; ``random``, a uniformly drawn
  member (``tournament_size`` unused) and ``mutation.mutate``; ``constants``, a tournament
  and ``mutation.mutate_constant`` (``weights`` and ``max_length`` unused). Adds the child to
  ``state.pending``; ``absorb`` takes it out when its fitness is known.
  """
  if strategy not in STRATEGIES:
    raise ValueError(f"unknown strategy {strategy!r}; expected one of {', '.join(STRATEGIES)}")
  child_id = state.next_id
  state.next_id += 1
  island_index = child_id % len(state.islands)
  rng = child_rng(state.seed, child_id)
  members = state.islands[island_index].members
  parent = tournament(members, rng, 1 if strategy == "random" else tournament_size)
  if strategy == "constants":
    program, applied = mutation.mutate_constant(parent.program, rng)
  else:
    program, applied = mutation.mutate(parent.program, rng, weights, max_length)
  child = Child(child_id, island_index, parent.id, str(applied), program, key(program),
                redundant(program))
  state.pending[child_id] = child
  state.generated += 1
  return child


def absorb(state: SearchState, child: Child, fitness: float, restart_after: int = 0,
           top_k: int = 10, cached: bool = False) -> Member:
  """The child joins its island with ``fitness``; the oldest member leaves.

  Updates the island's best and, after ``restart_after`` children without improvement,
  restarts it from its best. Returns the new member.
  """
  state.pending.pop(child.id, None)
  fitness = ranked_fitness(fitness)
  member = Member(child.id, child.program, child.key, fitness, child.redundant)
  island = state.islands[child.island]
  island.members.append(member)
  while len(island.members) > state.population_size:
    island.members.popleft()
  if fitness > island.best.fitness:
    island.best = member
    island.since_improvement = 0
  else:
    island.since_improvement += 1
  if restart_after and island.since_improvement >= restart_after:
    island.members = collections.deque([island.best] * state.population_size)
    island.since_improvement = 0
    island.restarts += 1
  state.events += 1
  if cached:
    state.cached += 1
  else:
    state.scored += 1
    state.failed += not math.isfinite(fitness)
  _remember_top(state, member, top_k)
  return member


def _remember_top(state: SearchState, member: Member, top_k: int | None) -> None:
  """Keeps the ``top_k`` fittest distinct programs (by cache key) ever scored."""
  if not math.isfinite(member.fitness):
    return
  if (top_k is not None and len(state.top) >= top_k
      and (member.fitness, -member.id) < state.top[0][:2]):
    return  # would be pushed and popped at once (the heap's head is the least fit kept)
  if any(key == member.key for _, _, key, _ in state.top):
    return
  entry = (member.fitness, -member.id, member.key, member.program.to_text())
  heapq.heappush(state.top, entry)
  while top_k is not None and len(state.top) > top_k:
    heapq.heappop(state.top)


def top(state: SearchState) -> list[tuple[float, int, str, Program]]:
  """``(fitness, id, key, program)`` of the fittest programs ever scored, best first."""
  return [(f, -neg_id, key, dsl.parse(text))
          for f, neg_id, key, text in sorted(state.top, reverse=True)]


def population(state: SearchState) -> Iterable[Member]:
  for island in state.islands:
    yield from island.members


def statistics(state: SearchState) -> dict[str, float]:
  """Best and median fitness and mean redundant-statement fraction over all islands."""
  fitness = np.array([m.fitness for m in population(state)], dtype=float)
  redundant = [m.redundant for m in population(state) if m.redundant is not None]
  best = state.best
  return {
      "best_fitness": best.fitness if best is not None else math.nan,
      "median_fitness": float(np.median(fitness)) if fitness.size else math.nan,
      "redundant_fraction": float(np.mean(redundant)) if redundant else math.nan,
  }


# ---- checkpoints: the state as plain JSON -------------------------------------------------

def to_json(state: SearchState) -> dict[str, Any]:
  """The state as JSON-ready data; each distinct member is written once."""
  members: dict[int, Member] = {}
  for island in state.islands:
    for member in (*island.members, island.best):
      members[member.id] = member
  if state.initial is not None:
    members[state.initial.id] = state.initial

  def member_json(m: Member) -> dict[str, Any]:
    return {"id": m.id, "key": m.key, "fitness": json_float(m.fitness),
            "redundant": m.redundant, "program": m.program.to_text()}

  return {
      "format": 1,
      "seed": state.seed, "population_size": state.population_size,
      "next_id": state.next_id, "generated": state.generated, "scored": state.scored,
      "cached": state.cached, "failed": state.failed, "events": state.events,
      "initial": state.initial.id if state.initial is not None else None,
      "members": [member_json(m) for m in members.values()],
      "islands": [{"members": [m.id for m in island.members], "best": island.best.id,
                   "since_improvement": island.since_improvement, "restarts": island.restarts}
                  for island in state.islands],
      "pending": [{"id": c.id, "island": c.island, "parent": c.parent, "mutation": c.mutation,
                   "key": c.key, "redundant": c.redundant, "program": c.program.to_text()}
                  for c in state.pending.values()],
      "top": [{"fitness": json_float(f), "id": -neg_id, "key": key, "program": text}
              for f, neg_id, key, text in state.top],
  }


def from_json(data: Mapping[str, Any]) -> SearchState:
  """Inverse of ``to_json``."""
  if data.get("format") != 1:
    raise ValueError(f"unknown checkpoint format {data.get('format')!r} (expected 1)")
  members = {
      m["id"]: Member(m["id"], dsl.parse(m["program"]), m["key"],
                      ranked_fitness(m["fitness"]), m["redundant"])
      for m in data["members"]}
  state = SearchState(
      seed=data["seed"], population_size=data["population_size"], next_id=data["next_id"],
      generated=data["generated"], scored=data["scored"], cached=data["cached"],
      failed=data["failed"], events=data["events"],
      initial=members[data["initial"]] if data["initial"] is not None else None)
  state.islands = [Island(collections.deque(members[i] for i in island["members"]),
                          members[island["best"]], island["since_improvement"],
                          island["restarts"]) for island in data["islands"]]
  state.pending = {
      c["id"]: Child(c["id"], c["island"], c["parent"], c["mutation"], dsl.parse(c["program"]),
                     c["key"], c["redundant"]) for c in data["pending"]}
  state.top = [(ranked_fitness(t["fitness"]), -t["id"], t["key"], t["program"])
               for t in data["top"]]
  heapq.heapify(state.top)
  return state
