"""benchmarks/: the generation benchmark measures real children (its rate is printed, not tested)."""

import pathlib
import runpy

import dsl

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_generation_benchmark_makes_valid_children_of_the_requested_drift():
  module = runpy.run_path(str(ROOT / "benchmarks" / "generation_rate.py"))  # main() not run
  rate, children = module["generation_rate"](300, population_size=50, target_length=12)
  assert rate > 0 and len(children) == 300
  assert all(dsl.is_valid(child) for child in children)
  # the stand-in fitness pulls the population towards longer programs than AdamW's four lines
  assert max(len(child.statements) for child in children[-50:]) > len(
      dsl.library.load("adamw").statements)


def _task_throughput():
  return runpy.run_path(str(ROOT / "benchmarks" / "task_throughput.py"))  # main() not run


def test_task_throughput_counts_the_matmuls_xla_runs():
  module = _task_throughput()
  import proxy_tasks  # pylint: disable=import-outside-toplevel
  figures = module["flops_per_program"](proxy_tasks.get("mlp_digits", steps=2))
  # per step: forward 64x64x32 + 64x32x10, backward the two weight gradients and the hidden
  # gradient (the input's gradient is dead code XLA drops); then the metric on 297 images
  step = 2 * (64 * 64 * 32 + 64 * 32 * 10) + 2 * (32 * 64 * 10 + 64 * 10 * 32 + 64 * 64 * 32)
  assert figures["matmul_flops_per_program"] == 2 * step + 297 * 2 * (64 * 32 + 32 * 10)
  assert figures["flops_per_program"] > 0.9 * figures["matmul_flops_per_program"]


def test_task_throughput_rejects_bad_flags_in_one_line(capsys):
  main = _task_throughput()["main"]
  assert main(["--task", "mlp_digits", "--set", "stepz=3"]) == 2
  assert main(["--task", "nope"]) == 2
  assert main(["--task", "mlp_digits", "--set", "steps=0"]) == 2
  lines = capsys.readouterr().err.strip().splitlines()
  assert len(lines) == 3 and "stepz" in lines[0] and "nope" in lines[1] and "steps" in lines[2]
