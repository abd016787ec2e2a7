"""Shared helpers of the search's tests: small configs and in-process searches."""

from __future__ import annotations

import pathlib

from search import config as config_lib
from runlog import folder as run_folder
from search import driver, workers
from tests.search import fakes

BASE = """\
name: {name}
seed: {seed}
initial_program: adamw
task:
  name: fake
  evaluator: tests.search.fakes:make
budget:
  max_programs: {max_programs}
evolution:
  population_size: {population_size}
  tournament_size: 2
  repeats: {repeats}
  restart_after: {restart_after}
workers:
  backend: local
output:
  runs_dir: {runs_dir}
  checkpoint_every_s: {checkpoint_every_s}
  metrics_every_s: 0.05
  top_k: 5
"""


def small_config(runs_dir, name="test", seed=0, max_programs=300, population_size=30,
                 repeats=1, restart_after=0, checkpoint_every_s=0.2, overrides=()):
  text = BASE.format(name=name, seed=seed, max_programs=max_programs,
                     population_size=population_size, repeats=repeats,
                     restart_after=restart_after, runs_dir=runs_dir,
                     checkpoint_every_s=checkpoint_every_s)
  return config_lib.parse(text, "test.yaml", overrides)


def run_search(config, evaluator=None, pool=None):
  """Runs ``config`` in-process with the fake evaluator; returns (search, folder, evaluator)."""
  evaluator = evaluator or fakes.FakeEvaluator()
  folder = run_folder.RunFolder(pathlib.Path(config.output.runs_dir) / config.name)
  search = driver.Search(config, folder, pool or workers.LocalPool(evaluator))
  search.run()
  return search, folder, evaluator


def trajectory(events):
  """What must not depend on timing: who joined, from whom, by which mutation, with what."""
  return [(e["seq"], e["id"], e["parent"], e["island"], e["mutation"], e["key"], e["fitness"],
           e["status"]) for e in events]
