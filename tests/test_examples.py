"""examples/: a found program exported with dsl.to_optax trains a model in a plain optax loop."""

import pathlib
import runpy

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "train_with_optax.py"


@pytest.fixture(scope="module")
def example():
  return runpy.run_path(str(EXAMPLE))  # defines main() without running it


def test_an_exported_program_trains_the_mlp(example, capsys):
  assert example["main"]([str(ROOT / "dsl/library/adamw.py"), "--steps", "60"]) == 0
  lines = capsys.readouterr().out.splitlines()
  losses = [float(line.split("validation loss ")[1].split()[0]) for line in lines]
  assert len(losses) == 2 and all(0.0 < loss < 2.3 for loss in losses)  # below chance (ln 10)


def test_a_bad_program_file_exits_2(example, tmp_path, capsys):
  bad = tmp_path / "bad.py"
  bad.write_text("def train(w, g, lr):\n  u = nope(g)\n  return u\n")
  assert example["main"]([str(bad), "--steps", "5"]) == 2
  assert "bad.py:2" in capsys.readouterr().err
