"""The task protocol: a user's task, named by import path, is scored like a built-in one;
every way it can be wrong is one clear line."""

import dataclasses

import jax
import numpy as np
import pytest

import dsl
import proxy_tasks
from proxy_tasks import interpreter, protocol, reference, tasks

USER = "tests.proxy_tasks.user_tasks"


def test_settings_are_the_run_fields_of_task_config():
  fields = {f.name: f.default for f in dataclasses.fields(proxy_tasks.TaskConfig)}
  for field in dataclasses.fields(proxy_tasks.Settings):
    if field.name != "name":
      assert fields[field.name] == field.default, field.name


def test_a_layout_round_trips_any_pytree():
  task = proxy_tasks.resolve(f"{USER}:make_odd")
  params = task.init_params(0)
  layout = interpreter.Layout.of(params)
  flat = layout.flatten(params)
  assert flat.shape == (layout.size,) == (28,)
  back = layout.unflatten(flat, jax.tree.structure(params))
  assert jax.tree.structure(back) == jax.tree.structure(params)
  for a, b in zip(jax.tree.leaves(back), jax.tree.leaves(params)):
    assert a.shape == b.shape and np.array_equal(a, b)


def test_a_user_task_scores_as_dsl_compile_trains_it():
  task = proxy_tasks.resolve(f"{USER}:make_odd", steps=15, seeds=(0, 1))
  assert task.config.steps == 15 and task.config.seeds == (0, 1)  # the factory takes steps
  programs = [dsl.library.load(name) for name in ("adamw", "lion")]
  results = proxy_tasks.Evaluator(task, slots=2, normalize=False).evaluate(programs)
  for program, result in zip(programs, results):
    assert result.ok, result.reason
    assert result.metric == pytest.approx(reference.metric(task, program), rel=1e-5)


def test_settings_the_factory_does_not_take_replace_the_config():
  task = proxy_tasks.resolve(f"{USER}:make_broken", kind="", seed=4, steps=7, chunks=2)
  assert (task.config.seeds, task.config.chunks, task.config.steps) == ((4,), 2, 7)
  assert task.plan(4).shape == (7, 8)  # the task reads its steps from its config
  assert proxy_tasks.resolve(f"{USER}:make_broken", kind="").config.steps == 20  # unchanged


@pytest.mark.parametrize("name, overrides, message", [
    ("tests.proxy_tasks.nope:make", {}, "cannot import 'tests.proxy_tasks.nope': "
     "ModuleNotFoundError"),
    (f"{USER}:missing", {}, "has no callable 'missing'"),
    (f"{USER}:NOT_CALLABLE", {}, "has no callable 'NOT_CALLABLE'"),
    (f"{USER}:make_raising", {}, "make_raising() raised RuntimeError: no GPU here"),
    (f"{USER}:make_odd", {"width": 3}, "unexpected keyword argument 'width'"),
    (f"{USER}:make_no_metric", {}, "NoMetric, which is not a task: it lacks metric"),
    (f"{USER}:make_broken", {"kind": "vector loss"},
     "train_loss(params, data, plan[0]) is an array of shape (8,)"),
    (f"{USER}:make_broken", {"kind": "int params"},
     "init_params(0)['pair'][0] is an array of shape (3, 2) and dtype int32; parameters must "
     "be float32 arrays"),
    (f"{USER}:make_broken", {"kind": "nan metric"}, "metric(params, data) is NaN on the "
     "initial parameters"),
    (f"{USER}:make_odd", {"steps": 0}, "steps must be >= 1"),
    ("nope", {}, "unknown proxy task 'nope'"),
    ("mlp_digits", {"stepz": 1}, "unknown config field(s) stepz"),
])
def test_a_bad_task_is_one_line_naming_it(name, overrides, message):
  with pytest.raises(proxy_tasks.TaskError) as error:
    proxy_tasks.check(name, **overrides)
  text = str(error.value)
  assert message in text and "\n" not in text
  if ":" in name:
    assert text.startswith(f"task '{name}'")


def test_validate_names_every_missing_piece():
  class Empty:
    config = proxy_tasks.Settings()
  assert protocol.missing(Empty()) == ["init_params", "data", "plan", "train_loss", "metric",
                                       "shared_data", "schedule"]


def test_every_builtin_model_is_one_file_and_a_task():
  assert set(tasks.models()) == {"mlp", "vit", "transformer_lm", "quadratic",
                                             "rosenbrock", "linear_regression"}
  for name in proxy_tasks.names():
    task = proxy_tasks.get(name)
    assert isinstance(task, proxy_tasks.TaskBase) and not protocol.missing(task)
    assert type(task).__module__ == f"proxy_tasks.builtin.{task.config.model}"
  with pytest.raises(ValueError, match="unknown model 'cnn'"):
    tasks.build(proxy_tasks.TaskConfig(name="x", model="cnn"))
