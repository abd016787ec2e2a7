import dataclasses
import json
import math

import pytest

import dsl
from runlog import folder as run_folder
from runlog.event import Event

EVENT = Event(seq=3, id=7, parent=2, island=1, mutation="insert", key="k", fitness=-math.inf,
              status="nan", seconds=0.5, worker="w0", metric=math.nan, normalized=None,
              reason="loss is NaN", redundant=0.25, elapsed_s=1.5,
              program="def train(w, g, lr):\n  return g\n")


def test_to_json_is_strict_json_with_the_fields_in_order():
  data = EVENT.to_json()
  assert list(data) == [f.name for f in dataclasses.fields(Event)]
  assert len(data) == 16
  back = json.loads(json.dumps(data, allow_nan=False))
  assert back["fitness"] == "-inf" and back["metric"] == "nan" and back["normalized"] is None
  assert dsl.ranked_fitness(back["fitness"]) == -math.inf


def test_an_event_is_immutable():
  with pytest.raises(dataclasses.FrozenInstanceError):
    EVENT.fitness = 1.0  # type: ignore[misc]


def test_the_log_gives_back_what_the_event_wrote(tmp_path):
  folder = run_folder.RunFolder(tmp_path / "run")
  folder.create("name: x\n", "def train(w, g, lr):\n  return g\n")
  folder.open_logs()
  folder.append_event(EVENT.to_json())
  folder.close()
  assert folder.events() == [EVENT.to_json()]
