"""Shared fixtures of the meta_validation tests: toy tasks and a fake search run folder."""

from __future__ import annotations

import json
import pathlib

import dsl
import proxy_tasks
from dsl import hyperparameters

# Tiny members of the toy family, so the funnel's stages take seconds.
TASK_10X = "mvtest_quadratic_10x"
TASK_100X = "mvtest_quadratic_100x"
proxy_tasks.register_scaled(TASK_10X, "quadratic", steps=40)
proxy_tasks.register_scaled(TASK_100X, "quadratic", steps=60, width=24)


def make_run(folder: pathlib.Path, programs: dict[str, dsl.Program] | None = None,
             events: list[tuple[str, float | None, str]] | None = None
             ) -> dict[str, dsl.Program]:
  """A run folder as ``search`` leaves it: config.yaml and events.jsonl (with program text).

  Returns the programs by name. By default ``lion`` appears twice (same key, two fitnesses),
  one event failed and one is ``cached``; ``programs`` and ``events`` (name, fitness,
  status) replace that log.
  """
  folder.mkdir(parents=True, exist_ok=True)
  (folder / "config.yaml").write_text("name: test\ntask:\n  name: quadratic\n")
  if programs is not None:
    return _write_events(folder, programs, events)
  programs = {
      "adamw": dsl.library.load("adamw"),
      "lion": dsl.library.load("lion"),
      "sgd": dsl.library.load("sgd_momentum"),
      "fast_adamw": hyperparameters.with_hyperparameters(dsl.library.load("adamw"), lr=0.05, wd=0.0),
      "signum": dsl.library.load("signum"),
  }
  events = [
      ("adamw", 0.0, "ok"), ("lion", 0.2, "ok"), ("sgd", -1.0, "ok"),
      ("fast_adamw", 0.9, "ok"), ("lion", 0.5, "cached"), ("signum", None, "diverged"),
  ]
  return _write_events(folder, programs, events)


def _write_events(folder, programs, events):
  with open(folder / "events.jsonl", "w", encoding="utf-8") as f:
    for number, (name, fitness, status) in enumerate(events):
      f.write(json.dumps({"seq": number, "id": number, "parent": 0, "key": f"key-{name}",
                          "fitness": fitness, "status": status,
                          "program": programs[name].to_text()}) + "\n")
    f.write('{"seq": 99, "id": 99, "fitn')  # a torn last line, as a crash leaves it
  return programs
