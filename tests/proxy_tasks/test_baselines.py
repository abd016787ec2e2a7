"""Baselines: every optimizer tuned by proxy_tasks.tuning, stored atomically."""

import json

from proxy_tasks import baselines


def test_run_writes_every_run_and_the_best_points(tmp_path):
  content = baselines.run("quadratic", tmp_path, ("adamw", "lion"), budget=10, steps=20)
  stored = json.loads((tmp_path / "quadratic.json").read_text())
  assert stored == json.loads(json.dumps(content))
  for name in ("adamw", "lion"):
    result = stored["optimizers"][name]
    assert result["runs"] == len(result["trials"]) >= 10
    metrics = [t["metric"] for t in result["trials"] if isinstance(t["metric"], float)]
    assert result["best_metric"] == min(metrics)
  assert not list(tmp_path.glob(".*tmp"))  # no temporary file left


def test_cli_rejects_bad_input_in_one_line(capsys, tmp_path):
  assert baselines.main(["--task", "nope"]) == 2
  assert "unknown proxy task 'nope'" in capsys.readouterr().err
  assert baselines.main(["--task", "quadratic", "--optimizers", "adamx"]) == 2
  assert "unknown optimizer 'adamx'" in capsys.readouterr().err
  assert baselines.main(["--task", "quadratic", "--space", "adamw:lr,nope"]) == 2
  assert "unknown axis 'nope'" in capsys.readouterr().err
  assert baselines.main(["--task", "quadratic", "--space", "sgd:lr"]) == 2
  assert "'sgd' is not one of the optimizers" in capsys.readouterr().err
  assert baselines.main(["--task", "quadratic", "--budget", "0"]) == 2
  assert "--budget" in capsys.readouterr().err
