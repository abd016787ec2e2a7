import json
import math

import pytest

import dsl
from dsl.files import float_from_json, json_float, json_safe


@pytest.mark.parametrize("value", [-math.inf, math.inf, math.nan, None, "-inf", "nan", "inf"])
def test_every_non_finite_or_missing_fitness_ranks_as_a_failed_run(value):
  assert dsl.ranked_fitness(value) == -math.inf


@pytest.mark.parametrize("value", [0.25, -3, 0.0, 1.5])
def test_a_finite_fitness_is_kept(value):
  assert dsl.ranked_fitness(value) == float(value)


@pytest.mark.parametrize("value", [True, "fast", [1.0], {}])
def test_a_fitness_that_is_not_a_number_is_an_error(value):
  with pytest.raises(ValueError, match="expected a number"):
    dsl.ranked_fitness(value)


def test_json_float_round_trips_through_strict_json():
  values = [1.5, -math.inf, math.inf, math.nan, 0.0]
  text = json.dumps(json_safe({"a": values, "b": (math.nan,)}), allow_nan=False)
  back = json.loads(text)
  decoded = [float_from_json(v) for v in back["a"]]
  assert decoded[:3] == values[:3] and math.isnan(decoded[3]) and decoded[4] == 0.0
  assert back["b"] == ["nan"] and json_float(2) == 2.0


def test_float_from_json_reads_null_from_older_files_as_nan():
  assert math.isnan(float_from_json(None))
