"""search.compare: Figure 2 from run folders (synthetic metrics.csv), mean +- SE, bad input."""

import csv
import json
import math
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from runlog import folder as run_folder
from search import compare

ROOT = pathlib.Path(__file__).resolve().parents[2]


def _run(root, name, rows, cpu_hours=None, torn=""):
  """A run folder whose metrics.csv holds ``rows`` of (scored, generated, best_fitness)."""
  folder = root / name
  folder.mkdir(parents=True)
  lines = [",".join(run_folder.METRICS_COLUMNS)]
  for scored, generated, best in rows:
    row = dict.fromkeys(run_folder.METRICS_COLUMNS, "")
    row.update(scored=scored, generated=generated, best_fitness=best)
    lines.append(",".join(str(row[c]) for c in run_folder.METRICS_COLUMNS))
  (folder / "metrics.csv").write_text("\n".join(lines) + "\n" + torn)
  if cpu_hours is not None:
    (folder / "cost.json").write_text(json.dumps({"format": 1, "cpu_hours": cpu_hours,
                                                  "sessions": []}))
  return folder


def test_a_curve_is_the_best_so_far_as_a_step_function(tmp_path):
  run = _run(tmp_path, "a", [(10, 12, 0.5), (1, 1, 0.0), (20, 30, 0.3), (30, 45, "")],
             torn="40,60,")  # rows out of order, a dip, an empty cell, a torn last line
  curve = compare.read_curve(run)
  assert curve.x.tolist() == [1, 10, 20, 30] and curve.best.tolist() == [0.0, 0.5, 0.5, 0.5]
  values = curve.at(np.array([0.0, 1.0, 9.0, 10.0, 25.0, 99.0]))
  assert np.isnan(values[0]) and values[1:].tolist() == [0.0, 0.0, 0.5, 0.5, 0.5]
  assert compare.read_curve(run, "generated").x.tolist() == [1, 12, 30, 45]
  assert curve.cpu_hours is None


def _two_arms(tmp_path):
  # Evolution's three repeats end at 0.3, 0.5, 0.7 by 100 programs trained; random's at 0.1,
  # 0.1, 0.4. The common grid runs from 5 (the latest first row) to 100 (the earliest end).
  evolution = [_run(tmp_path, f"evo_{i}", [(1, 1, 0.0), (50, 80, end / 2), (100, 150, end),
                                           (120, 170, end + 1.0)], cpu_hours=0.5 + i)
               for i, end in enumerate((0.3, 0.5, 0.7))]
  random = [_run(tmp_path, f"rnd_{i}", [(5, 5, 0.0), (100, 104, end)])
            for i, end in enumerate((0.1, 0.1, 0.4))]
  return evolution, random


def test_arms_are_averaged_on_a_common_grid_with_standard_errors(tmp_path, capsys):
  evolution, random = _two_arms(tmp_path)
  out, table = tmp_path / "figure.png", tmp_path / "curves.csv"
  status = compare.main(["--arm", "evolution", *map(str, evolution), "--arm", "random",
                         *map(str, random), "--out", str(out), "--csv", str(table),
                         "--points", "20"])
  printed = capsys.readouterr().out
  assert status == 0 and out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  rows = list(csv.DictReader(table.open()))
  assert float(rows[0]["scored"]) == 5 and float(rows[-1]["scored"]) == 100
  end = rows[-1]
  assert float(end["evolution_mean"]) == pytest.approx(0.5)
  assert float(end["evolution_se"]) == pytest.approx(0.2 / math.sqrt(3), rel=1e-5)
  assert float(end["random_mean"]) == pytest.approx(0.2)
  assert float(end["random_se"]) == pytest.approx(np.std([0.1, 0.1, 0.4], ddof=1) / math.sqrt(3),
                                                  rel=1e-5)
  middle = next(r for r in rows if 50 <= float(r["scored"]) < 100)
  assert float(middle["evolution_mean"]) == pytest.approx(0.25)  # the row at 50 holds
  assert float(middle["random_mean"]) == 0.0
  lines = printed.splitlines()
  evolution_row = next(l for l in lines if l.startswith("| evolution |"))
  assert evolution_row == ("| evolution | 3 | 120 (120-120) | 0.5000 ± 0.1155 | 1.5000 ± 0.1155 "
                           "| 1.5 |")
  random_row = next(l for l in lines if l.startswith("| random |"))
  assert random_row.startswith("| random | 3 | 100 (100-100) | 0.2000 ± 0.1000 | 0.2000 ± ")
  assert random_row.endswith("| - |")  # no cost.json
  assert "at 100 programs trained (equal compute)" in printed


def test_each_folder_given_alone_is_an_arm_and_one_run_has_no_error_band(tmp_path, capsys):
  evolution, random = _two_arms(tmp_path)
  status = compare.main([str(evolution[0]), str(random[2]), "--out", str(tmp_path / "f.png"),
                         "--x", "generated"])
  printed = capsys.readouterr().out
  assert status == 0
  assert "| evo_0 | 1 | 170 (170-170) | 0.1500 ± - |" in printed  # at 104 generated: row 80
  assert "| rnd_2 | 1 | 104 (104-104) | 0.4000 ± - |" in printed


@pytest.mark.parametrize("case", ["missing_folder", "no_metrics", "arm_without_runs",
                                  "name_is_a_folder", "twice", "bad_number", "no_rows",
                                  "no_overlap", "no_column", "no_runs", "points",
                                  "out_folder"])
def test_bad_input_is_one_line_and_status_2(tmp_path, capsys, case):
  good = _run(tmp_path, "good", [(1, 1, 0.0), (10, 10, 0.1)])
  (tmp_path / "empty").mkdir()
  args = {
      "missing_folder": (["--arm", "evolution", str(good), str(tmp_path / "nope")],
                         f"{tmp_path / 'nope'}: no such run folder"),
      "no_metrics": ([str(tmp_path / "empty")], f"{tmp_path / 'empty' / 'metrics.csv'}: missing"),
      "arm_without_runs": (["--arm", "random"], "--arm random: no run folders"),
      "name_is_a_folder": (["--arm", str(good), str(good)], "the first value is the arm's name"),
      "twice": ([str(good), "--arm", "good", str(good)], "arm 'good' is given twice"),
      "bad_number": ([str(_run(tmp_path, "bad", [(1, 1, "zero")]))],
                     f"{tmp_path / 'bad' / 'metrics.csv'}:2: column 'best_fitness' must be a "
                     "number, got 'zero'"),
      "no_rows": ([str(_run(tmp_path, "new", []))], "no rows yet"),
      "no_overlap": ([str(good), str(_run(tmp_path, "late", [(50, 50, 0.0)]))],
                     "the runs do not overlap"),
      "no_column": ([str(good), "--x", "generated"], None),
      "no_runs": ([], "no runs: give RUN_DIR"),
      "points": ([str(good), "--points", "1"], "--points: expected at least 2, got 1"),
      "out_folder": ([str(good), "--out", str(tmp_path / "no" / "f.png")], "no folder"),
  }
  if case == "no_column":
    folder = tmp_path / "old"
    folder.mkdir()
    (folder / "metrics.csv").write_text("elapsed_s,scored,best_fitness\n1,1,0.0\n")
    args["no_column"] = ([str(folder), "--x", "generated"],
                         f"{folder / 'metrics.csv'}: no column 'generated'")
  argv, expected = args[case]
  out = tmp_path / "figure.png"
  if "--out" not in argv:
    argv = [*argv, "--out", str(out)]
  assert compare.main(argv) == 2
  captured = capsys.readouterr()
  assert captured.out == "" and len(captured.err.strip().splitlines()) == 1
  assert expected in captured.err
  assert not out.exists()


def test_the_command_line_runs_as_a_module(tmp_path):
  evolution, random = _two_arms(tmp_path)
  done = subprocess.run([sys.executable, "-m", "search.compare", "--arm", "evolution",
                         *map(str, evolution), "--arm", "random", *map(str, random),
                         "--out", str(tmp_path / "f.png")], cwd=ROOT, capture_output=True,
                        text=True, timeout=120)
  assert done.returncode == 0, done.stderr
  assert "| evolution | 3 |" in done.stdout and (tmp_path / "f.png").exists()


def test_a_malformed_flag_is_one_line_and_status_2(capsys):
  with pytest.raises(SystemExit) as exit_:
    compare.main(["--points", "many"])
  assert exit_.value.code == 2
  error = capsys.readouterr().err
  assert len(error.strip().splitlines()) == 1 and "--points: invalid int value" in error
