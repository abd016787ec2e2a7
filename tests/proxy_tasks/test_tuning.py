"""proxy_tasks.tuning: the one procedure, its budget, edge extension, limits, invariance."""

import math

import pytest

import dsl
import proxy_tasks
from dsl import hyperparameters
from proxy_tasks import tuning


def bowl(lr_opt, beta2_opt=None, constant_bonus=0.0, fail_above=None):
  """A synthetic metric: a bowl in log(lr) (and log(1 - beta2)), a bonus for the constant
  schedule, NaN above a learning rate."""
  def score(programs):
    out = []
    for program in programs:
      values = hyperparameters.values(program)
      metric = 1.0 + (math.log10(values["lr"]) - math.log10(lr_opt)) ** 2
      if beta2_opt is not None and "beta2" in values:
        metric += (math.log10(1 - values["beta2"]) - math.log10(1 - beta2_opt)) ** 2
      if values["schedule"] == "constant":
        metric -= constant_bonus
      if fail_above is not None and values["lr"] > fail_above:
        metric = math.nan
      out.append(metric)
    return out
  return score


def test_every_optimizer_gets_the_same_budget():
  spaces = {name: tuning.library_space(name) for name in ("adamw", "lion", "sgd_momentum", "sgd")}
  tuned = tuning.tune(spaces, bowl(3e-3, 0.95), budget=24)
  assert list(tuned) == list(spaces)
  assert {tuned[n].runs for n in ("adamw", "lion", "sgd_momentum")} == {24}
  # Plain SGD has one axis and the schedule: it stops when nothing is left to try.
  assert tuned["sgd"].runs < 24 and "nothing left to try" in tuning.report(tuned)
  for t in tuned.values():
    assert len({tuple(sorted(p.items())) for p, _ in t.trials}) == t.runs  # none twice


def test_the_best_point_is_the_lowest_finite_metric_ties_to_the_first():
  assert tuning.best_index([3.0, math.nan, 1.0, 1.0, 2.0]) == 2
  assert tuning.best_index([math.nan, math.inf]) is None
  tuned = tuning.tune({"adamw": tuning.library_space("adamw")}, bowl(1e-2), 20)["adamw"]
  finite = [m for _, m in tuned.trials if math.isfinite(m)]
  assert tuned.best_metric == min(finite)
  assert tuned.program == tuning.library_space("adamw").apply(tuned.best)


def test_an_optimum_beyond_the_ladder_is_reached_by_extension():
  tuned = tuning.tune({"sgd": tuning.library_space("sgd")}, bowl(3e-7), 16)["sgd"]
  assert tuned.best["lr"] == pytest.approx(3e-7, rel=0.35)
  assert not tuned.at_limit
  lrs = sorted(p["lr"] for p, _ in tuned.trials)
  assert lrs[0] < tuned.best["lr"] < lrs[-1]  # interior


def test_an_optimum_past_the_hard_limit_is_flagged():
  tuned = tuning.tune({"sgd": tuning.library_space("sgd")}, bowl(1e3), 16)["sgd"]
  assert tuned.best["lr"] == tuning.AXES["lr"].limits[1] and tuned.at_limit == ("lr",)
  assert "OPTIMUM AT A LIMIT: lr" in tuning.report({"sgd": tuned})


def test_when_every_learning_rate_fails_the_sweep_looks_lower():
  tuned = tuning.tune({"sgd": tuning.library_space("sgd")},
                      bowl(1e-6, fail_above=2e-5), 16)["sgd"]
  assert tuned.best["lr"] == pytest.approx(1e-6, rel=0.35)


def test_the_schedule_is_tuned_so_ignoring_it_is_no_advantage():
  tuned = tuning.tune({"adamw": tuning.library_space("adamw")},
                      bowl(1e-3, constant_bonus=0.5), 16)["adamw"]
  assert tuned.best["schedule"] == "constant"
  assert hyperparameters.schedule_of(tuned.program) == "constant"


def test_spaces_are_checked():
  with pytest.raises(tuning.SpaceError, match="unknown optimizer 'adamx'"):
    tuning.library_space("adamx")
  with pytest.raises(tuning.SpaceError, match="unknown axis 'momentum'"):
    tuning.library_space("adamw", ["lr", "momentum"])
  with pytest.raises(tuning.SpaceError, match="has no beta2"):
    tuning.library_space("signum", ["lr", "beta2"])
  with pytest.raises(tuning.SpaceError, match="empty ladder"):
    tuning.Axis("lr", ())
  with pytest.raises(tuning.SpaceError, match="budget"):
    tuning.tune({"sgd": tuning.library_space("sgd")}, bowl(1e-3), 0)
  # Program 4's second "interp" constant is 1.109: not a beta, so not tuned as one.
  assert [a.name for a in tuning.space(dsl.library.load("program4")).axes] == [
      "lr", "wd", "beta1", "schedule"]


def test_tuning_is_invariant_to_the_programs_constants():
  """Program 1 as printed (no learning-rate constant), the library Lion, and AdamW written
  with another learning rate tune to the same points and metrics on a real task."""
  evaluator = proxy_tasks.Evaluator(proxy_tasks.get("linear_regression", steps=40),
                                    normalize=False)
  other_adamw = hyperparameters.with_hyperparameters(dsl.library.load("adamw"), lr=0.7,
                                                     wd=0.3)
  spaces = {"lion": tuning.library_space("lion"),
            "program1": tuning.space(dsl.library.load("program1")),
            "adamw": tuning.library_space("adamw"), "adamw_other": tuning.space(other_adamw)}
  tuned = tuning.tune(spaces, evaluator.metrics, 20)
  assert tuned["program1"].best == tuned["lion"].best
  assert tuned["program1"].best_metric == pytest.approx(tuned["lion"].best_metric, rel=1e-4)
  assert tuned["adamw_other"].best_metric == pytest.approx(tuned["adamw"].best_metric, rel=1e-4)
