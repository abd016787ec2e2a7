"""Crash-safe writes of the run folder."""

import json
import os

import pytest

from search import run_folder


def test_atomic_write_replaces_whole_files_and_leaves_no_temporary(tmp_path):
  path = tmp_path / "f.json"
  run_folder.atomic_write(path, "old")
  run_folder.atomic_write(path, b"new")
  assert path.read_text() == "new"
  assert os.listdir(tmp_path) == ["f.json"]


def test_failed_write_keeps_the_old_file(tmp_path, monkeypatch):
  path = tmp_path / "f.txt"
  run_folder.atomic_write(path, "old")

  def broken_replace(*_):
    raise OSError("disk full")

  monkeypatch.setattr(os, "replace", broken_replace)
  with pytest.raises(OSError):
    run_folder.atomic_write(path, "new")
  assert path.read_text() == "old"
  assert os.listdir(tmp_path) == ["f.txt"]


def test_torn_last_line_is_ignored_then_cut_before_appending(tmp_path):
  folder = run_folder.RunFolder(tmp_path / "run")
  folder.create("name: x\n", "def train(w, g, lr):\n  return g\n")
  with open(folder.events_path, "w") as f:
    f.write(json.dumps({"seq": 1}) + "\n" + '{"seq": 2, "fit')
  assert folder.events() == [{"seq": 1}]
  folder.open_logs()
  folder.append_event({"seq": 2, "fitness": float("-inf")})
  folder.close()
  assert folder.events() == [{"seq": 1}, {"seq": 2, "fitness": None}]


def test_corrupt_middle_line_is_an_error_naming_the_line(tmp_path):
  path = tmp_path / "events.jsonl"
  path.write_text('{"a": 1}\nnot json\n{"a": 2}\n')
  with pytest.raises(ValueError, match=r"events.jsonl:2: corrupt log line"):
    run_folder.read_jsonl(path)


def test_create_never_overwrites_a_run(tmp_path):
  folder = run_folder.RunFolder(tmp_path / "run")
  folder.create("name: x\n", "def train(w, g, lr):\n  return g\n")
  with pytest.raises(FileExistsError):
    folder.create("name: y\n", "def train(w, g, lr):\n  return g\n")
  assert folder.config_path.read_text() == "name: x\n"


def test_metrics_and_plot(tmp_path):
  folder = run_folder.RunFolder(tmp_path / "run")
  folder.create("name: x\n", "def train(w, g, lr):\n  return g\n")
  folder.open_logs()
  for i in range(3):
    folder.append_metrics({"elapsed_s": float(i), "generated": 10 * i, "best_fitness": 0.1 * i,
                           "median_fitness": float("nan")})
  folder.close()
  rows = folder.metrics()
  assert [r["generated"] for r in rows] == [0, 10, 20]
  folder.write_plots()
  assert folder.plot_path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
