"""Tests of the meta-validation task registry."""

import proxy_tasks
from meta_validation import tasks


def test_every_family_has_a_10x_and_100x_that_are_larger():
  assert len(tasks.names()) == 6
  for name in tasks.names():
    config = proxy_tasks.get_config(name)
    proxy = proxy_tasks.get_config(tasks.family_of(name))
    assert config.model == proxy.model and config.dataset == proxy.dataset
    assert config.steps > proxy.steps
  assert tasks.DEFAULT_REPLAY_TASK in tasks.names()
  assert tasks.scaled_name("mlp_digits", "10x") == "mlp_digits_10x"
  assert tasks.scaled_name("mlp_digits_100x", "10x") == "mlp_digits_10x"


def test_cost_grows_with_scale():
  small = tasks.run_cost("quadratic", steps=20)
  large = tasks.run_cost("quadratic", 200, steps=2000)  # timed over 200 steps, scaled by 10
  assert large.cpu_s > small.cpu_s > 0 and large.wall_s > small.wall_s > 0


def test_metric_names_say_what_each_family_reports():
  assert "nats per byte" in tasks.metric_name("lm_sklearn_text_100x")
  assert tasks.metric_name("mlp_digits_10x") == "validation cross-entropy (nats)"
  assert tasks.metric_name("quadratic") == "quadratic objective"


def test_cli_lists_and_rejects_unknown_families(capsys):
  assert tasks.main(["--list"]) == 0
  assert capsys.readouterr().out.split() == tasks.names()
  assert tasks.main(["--families", "nope"]) == 2
  assert "unknown family 'nope'" in capsys.readouterr().err
