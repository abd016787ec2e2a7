"""Config validation: typed objects, one-line located errors, overrides, round trip."""

import subprocess
import sys

import pytest

from search import config as config_lib
from tests.search.helpers import BASE, small_config


def _text(**changes):
  values = dict(name="t", seed=0, max_programs=10, population_size=20, repeats=1,
                restart_after=0, runs_dir="runs", checkpoint_every_s=1.0)
  values.update(changes)
  return BASE.format(**values)


def test_parses_into_typed_sections_with_defaults():
  config = config_lib.parse(_text(population_size=20), "x.yaml")
  assert config.evolution.population_size == 20
  assert config.evolution.max_program_length == 30  # default
  assert config.evolution.mutation_weights == {"insert": 1.0, "delete": 1.0, "modify": 1.0}
  assert isinstance(config.output.checkpoint_every_s, float)
  assert config.task.evaluator == "tests.search.fakes:make"


def test_unknown_key_names_file_line_key_and_allowed():
  text = _text().replace("  tournament_size: 2", "  tournament_sise: 2")
  with pytest.raises(config_lib.ConfigError) as error:
    config_lib.parse(text, "cfg.yaml")
  line = text.splitlines().index("  tournament_sise: 2") + 1
  message = str(error.value)
  assert message.startswith(f"cfg.yaml:{line}:3: unknown key 'evolution.tournament_sise'")
  assert "tournament_size" in message and "\n" not in message


def test_mistyped_value_is_located():
  text = _text().replace("  tournament_size: 2", "  tournament_size: two")
  with pytest.raises(config_lib.ConfigError, match=r"cfg.yaml:\d+:3: 'evolution.tournament_size'"
                     r" must be an integer, got 'two'"):
    config_lib.parse(text, "cfg.yaml")
  with pytest.raises(config_lib.ConfigError, match="must be an integer, got True"):
    config_lib.parse(_text().replace("  tournament_size: 2", "  tournament_size: yes"), "c")


def test_missing_key_is_named():
  text = "\n".join(l for l in _text().splitlines() if not l.startswith("seed:"))
  with pytest.raises(config_lib.ConfigError, match=r"^c.yaml:1:1: missing key 'seed'"):
    config_lib.parse(text, "c.yaml")


def test_relations_are_checked():
  with pytest.raises(config_lib.ConfigError, match="tournament_size' must be at most"):
    config_lib.parse(_text(population_size=1), "c.yaml")
  with pytest.raises(config_lib.ConfigError, match="'evolution.mutation_weights.swap' is not a"):
    config_lib.parse(_text(), "c.yaml", ["evolution.mutation_weights={swap: 1.0}"])
  with pytest.raises(config_lib.ConfigError, match="'workers.backend' must be 'ray' or 'local'"):
    config_lib.parse(_text(), "c.yaml", ["workers.backend=spark"])


def test_the_strategy_is_one_of_the_three_arms_and_random_search_never_restarts():
  assert config_lib.parse(_text(), "c.yaml").evolution.strategy == "evolution"
  for strategy in ("random", "constants"):
    config = config_lib.parse(_text(), "c.yaml", [f"evolution.strategy={strategy}"])
    assert config.evolution.strategy == strategy
  with pytest.raises(config_lib.ConfigError, match=r"^--set evolution.strategy=annealing: "
                     r"'evolution.strategy' must be one of evolution, random, constants"):
    config_lib.parse(_text(), "c.yaml", ["evolution.strategy=annealing"])
  with pytest.raises(config_lib.ConfigError, match=r"^c.yaml:\d+:3: 'evolution.restart_after' "
                     r"must be 0 with evolution.strategy 'random'"):
    config_lib.parse(_text(restart_after=50), "c.yaml", ["evolution.strategy=random"])


def test_overrides_are_typed_and_located():
  config = config_lib.parse(_text(), "c.yaml", ["evolution.population_size=7",
                                                "task.overrides.steps=50"])
  assert config.evolution.population_size == 7
  assert config.task.overrides == {"steps": 50}
  with pytest.raises(config_lib.ConfigError,
                     match=r"^--set evolution.population_size=big: 'evolution.population_size'"):
    config_lib.parse(_text(), "c.yaml", ["evolution.population_size=big"])
  with pytest.raises(config_lib.ConfigError, match=r"unknown key 'evolution.popsize'"):
    config_lib.parse(_text(), "c.yaml", ["evolution.popsize=3"])


def test_resolved_yaml_round_trips(tmp_path):
  config = small_config(tmp_path, repeats=3, restart_after=17)
  again = config_lib.parse(config_lib.to_yaml(config), "config.yaml")
  assert again == config
  assert config_lib.differences(config, again) == []
  changed = config_lib.parse(config_lib.to_yaml(config), "c", ["budget.max_programs=5"])
  assert config_lib.differences(config, changed) == [("budget.max_programs", 300, 5)]


def test_shipped_configs_are_valid():
  for path in ("configs/lion_search.yaml", "configs/quickstart.yaml"):
    config = config_lib.load(path)
    assert config.initial_program == "adamw"
  paper = config_lib.load("configs/lion_search.yaml")
  assert (paper.evolution.population_size, paper.evolution.tournament_size) == (1000, 2)


def test_the_rediscovery_arms_differ_only_in_how_a_child_is_made():
  arms = {arm: config_lib.load(f"configs/rediscovery/{arm}.yaml")
          for arm in ("evolution", "random", "constants")}
  assert {arm: c.evolution.strategy for arm, c in arms.items()} == {
      "evolution": "evolution", "random": "random", "constants": "constants"}
  differences = {arm: {key for key, _, _ in config_lib.differences(arms["evolution"], config)}
                 for arm, config in arms.items()}
  assert differences == {"evolution": set(),
                         "random": {"name", "evolution.strategy", "evolution.restart_after"},
                         "constants": {"name", "evolution.strategy"}}
  evolution = arms["evolution"]
  assert evolution.budget.max_trained > 0  # equal compute: programs trained, not children
  assert evolution.task == config_lib.load("configs/lion_search.yaml").task
  assert evolution.tune_initial and not evolution.meta_validation.funnel_at_end


def test_cli_reports_config_error_with_status_2(tmp_path):
  path = tmp_path / "bad.yaml"
  path.write_text(_text().replace("  repeats: 1", "  repeats: 1\n  colour: red"))
  done = subprocess.run([sys.executable, "-m", "search.run", str(path)], capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 2
  assert f"{path}:" in done.stderr and "unknown key 'evolution.colour'" in done.stderr
  assert len(done.stderr.strip().splitlines()) == 1
  assert not (tmp_path / "runs").exists()


def test_hurdles_and_suite_are_typed_and_checked():
  config = config_lib.parse(_text(), "x.yaml", [
      "task.evaluator=", "task.hurdles={mlp_digits: {overrides: {steps: 50}, threshold: median}}",
      "task.suite={lm_sklearn_text: {steps: 100}}"])
  hurdle = config.task.hurdles["mlp_digits"]
  assert hurdle.threshold == "median" and hurdle.overrides == {"steps": 50}
  assert config.task.suite == {"lm_sklearn_text": {"steps": 100}}
  with pytest.raises(config_lib.ConfigError,
                     match="'task.hurdles.mlp_digits.threshold' must be 'median' or a number"):
    config_lib.parse(_text(), "x.yaml", ["task.evaluator=",
                                         "task.hurdles={mlp_digits: {threshold: top}}"])
  with pytest.raises(config_lib.ConfigError, match="unknown key 'task.hurdles.mlp_digits.thresh'"):
    config_lib.parse(_text(), "x.yaml", ["task.evaluator=",
                                         "task.hurdles={mlp_digits: {thresh: 0.1}}"])
  with pytest.raises(config_lib.ConfigError, match="cannot be combined with task.suite"):
    config_lib.parse(_text(), "x.yaml", ["task.suite={x: {}}"])
