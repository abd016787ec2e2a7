"""The fidelity report: cells, verdicts, resuming, bad input."""

import json

import pytest

from meta_validation import fidelity

ARGS = ["--family", "linear_regression", "--batch-sizes", "4", "32", "--optimizers", "adamw",
        "lion", "--budget", "6", "--seeds", "2", "--set", "steps=20", "--quiet"]


def test_report_tunes_each_cell_and_gives_verdicts(tmp_path, capsys, monkeypatch):
  out = tmp_path / "fid"
  assert fidelity.main(ARGS + ["--out", str(out)]) == 0
  record = json.loads((out / "fidelity.json").read_text())
  assert [(c["family"], c["batch_size"]) for c in record["cells"]] == [
      ("linear_regression", 4), ("linear_regression", 32)]
  for c in record["cells"]:
    assert c["overrides"] == {"steps": 20, "batch_size": c["batch_size"]}
    for o in c["optimizers"].values():
      assert len(o["metrics"]) == 2 and o["runs"] >= 6 and "lr" in o["tuned"]
  verdict, = record["verdicts"]
  assert verdict["optimizer"] == "lion" and verdict["batch_low"] == 4
  assert verdict["growth"] == pytest.approx(verdict["gain_high"] - verdict["gain_low"])
  text = (out / "fidelity.md").read_text()
  assert "### Verdicts" in text and text in capsys.readouterr().out
  assert (out / "fidelity.png").read_bytes()[:4] == b"\x89PNG"
  # Run again: every cell is there, nothing is trained.
  monkeypatch.setattr(fidelity, "cell", lambda *a, **k: pytest.fail("a finished cell ran again"))
  assert fidelity.main(ARGS + ["--out", str(out)]) == 0


@pytest.mark.parametrize("extra, message", [
    (["--family", "nope"], "--family: unknown task 'nope'"),
    (["--optimizers", "lion"], "adamw must be one of them"),
    (["--optimizers", "adamw", "adamx"], "unknown optimizer 'adamx'"),
    (["--set", "stepz=3"], "--set"),
    (["--set", "steps"], "expected KEY=VALUE"),
    (["--budget", "0"], "--budget: expected a positive integer"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
  assert fidelity.main(["--out", str(tmp_path / "f"), "--quiet"] + extra) == 2
  err = capsys.readouterr().err.strip()
  assert message in err and "\n" not in err
  assert not (tmp_path / "f").exists()


def test_other_settings_in_the_same_folder_are_refused(tmp_path, capsys):
  out = tmp_path / "fid"
  out.mkdir()
  (out / "fidelity.json").write_text(json.dumps({"settings": {"families": ["x"]}, "cells": []}))
  assert fidelity.main(ARGS + ["--out", str(out)]) == 2
  assert "holds a report with other settings" in capsys.readouterr().err
