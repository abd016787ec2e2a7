"""Tasks: real offline data, deterministic splits and batches, models, the schedule."""

import jax
import numpy as np
import pytest

import proxy_tasks
from proxy_tasks import datasets


def test_digits_are_the_real_images_split_deterministically():
  data = datasets.digits()
  assert data["x_train"].shape == (1500, 64) and data["x_val"].shape == (297, 64)
  assert 0.0 <= data["x_train"].min() and data["x_train"].max() <= 1.0
  assert set(np.unique(data["y_val"])) == set(range(10))


def test_text_corpus_is_bytes_of_the_sklearn_descriptions():
  text = datasets.sklearn_text()
  assert len(text["train"]) > 30_000 and len(text["val"]) > 3_000
  assert b"Iris" in datasets.text_bytes() and len(datasets.text_fingerprint()) == 64


def test_schedule_warms_up_to_one_then_decays():
  lr = proxy_tasks.schedule(proxy_tasks.get_config("mlp_digits", steps=100,
                                                   warmup_fraction=0.1))
  assert lr.shape == (100,) and lr.dtype == np.float32
  assert lr[0] == pytest.approx(0.1) and lr[9] == pytest.approx(1.0)
  assert np.all(np.diff(lr[:10]) > 0) and np.all(np.diff(lr[10:]) < 0) and lr[-1] < 0.01


@pytest.mark.parametrize("name", ["mlp_digits", "vit_digits", "lm_sklearn_text", "quadratic",
                                  "rosenbrock", "linear_regression"])
def test_every_task_has_a_finite_loss_and_metric(name):
  task = proxy_tasks.get(name, steps=3)
  params, data, plan = task.init_params(0), task.data(0), task.plan(0)
  assert plan.shape[0] == 3
  loss, grad = jax.value_and_grad(task.train_loss)(params, data, plan[0])
  assert np.isfinite(float(loss)) and np.isfinite(float(task.metric(params, data)))
  assert jax.tree.structure(grad) == jax.tree.structure(params)


def test_plans_and_parameters_follow_the_seed():
  task = proxy_tasks.get("mlp_digits")
  assert np.array_equal(task.plan(1), task.plan(1))
  assert not np.array_equal(task.plan(1), task.plan(2))
  a, b = task.init_params(1)[0]["w"], task.init_params(2)[0]["w"]
  assert np.array_equal(a, task.init_params(1)[0]["w"]) and not np.array_equal(a, b)


def test_a_smaller_vocab_numbers_the_corpus_alphabet():
  alphabet = datasets.text_alphabet()
  task = proxy_tasks.get("lm_sklearn_text", vocab=96, steps=3)
  data = task.data(0)
  assert len(alphabet) <= 96 and int(data["train"].max()) == len(alphabet) - 1
  ids = {int(b): i for i, b in enumerate(alphabet)}
  text = datasets.sklearn_text()["train"]
  assert [ids[int(b)] for b in text[:50]] == np.asarray(data["train"][:50]).tolist()
  assert task.init_params(0)["head"]["w"].shape == (task.config.width, 96)
  with pytest.raises(ValueError, match="smaller than the corpus's"):
    proxy_tasks.get("lm_sklearn_text", vocab=len(alphabet) - 1).data(0)
  with pytest.raises(ValueError, match=r"vocab must be in \[2, 256\]"):
    proxy_tasks.get("lm_sklearn_text", vocab=300)
