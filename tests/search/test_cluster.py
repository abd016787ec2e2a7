"""A search on a two-node Ray cluster on this machine: the second node is killed mid-run and
the search carries on and finishes with nothing lost.

The head and the second node are ``ray start`` processes (``tests/search/ray_nodes.py``), one
CPU each, so the two workers of the search land one on each node. The search is
``python -m search.run CONFIG --address HEAD`` on the quadratic proxy task, as a user runs it.
"""

import collections
import json
import os
import pathlib
import re
import subprocess
import sys
import time

import pytest

from runlog import folder as run_folder
from tests.search.ray_nodes import CLUSTER_ENV, RayNode

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_PROGRAMS = 500

CONFIG = """\
name: cluster
seed: 0
initial_program: adamw
task:
  name: quadratic
  overrides: {{steps: 2000}}
budget:
  max_programs: {max_programs}
evolution:
  population_size: 50
  tournament_size: 2
  max_program_length: 12
workers:
  backend: ray
  num_workers: 2
  batch_size: 4
  max_restarts: 3
output:
  runs_dir: {runs_dir}
  checkpoint_every_s: 1
  metrics_every_s: 1
"""


def _worker_pid(name: str) -> int:
  return int(name.rsplit(":", 1)[1])


@pytest.fixture(name="cluster")
def _cluster():
  pytest.importorskip("ray")
  env = {"PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"}
  nodes = []
  try:
    nodes.append(RayNode(head=True, env=env))
    nodes[0].wait_started()
    nodes.append(RayNode(head=False, address=nodes[0].address, env=env))
    nodes[1].wait_started()
    yield nodes
  finally:  # only the processes of these two nodes, never `ray stop`
    for node in reversed(nodes):
      node.cleanup()


@pytest.mark.slow
def test_the_search_survives_the_loss_of_a_node(cluster, tmp_path):
  head, second = cluster
  config = tmp_path / "cluster.yaml"
  config.write_text(CONFIG.format(max_programs=MAX_PROGRAMS, runs_dir=tmp_path / "runs"))
  folder = run_folder.RunFolder(tmp_path / "runs" / "cluster")
  process = subprocess.Popen(
      [sys.executable, "-m", "search.run", str(config), "--address", head.address, "--quiet"],
      cwd=ROOT, env={**os.environ, **CLUSTER_ENV}, stdout=subprocess.PIPE,
      stderr=subprocess.PIPE, text=True)
  try:
    # The search starts once both workers are up, one per node (one CPU each), and keeps both
    # busy: 40 events in, the second node's worker is scoring a batch. Kill that node.
    before = []
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
      events = folder.events() if folder.events_path.exists() else []
      if len(events) >= 40:
        before = events
        second.kill()
        logged_at_kill = len(folder.events())
        head_processes = head.processes()  # its worker's too (gone when the search ends)
        break
      time.sleep(0.05)
    assert before, f"the search did not get going:\n{process.communicate()[1][-3000:]}"
    stdout, stderr = process.communicate(timeout=300)
  finally:
    if process.poll() is None:
      process.kill()
  assert process.returncode == 0, stderr[-3000:]
  assert len(before) < MAX_PROGRAMS // 2  # killed mid-run, with most of it still to do
  events = folder.events()
  # Every child exactly once, nothing lost: the budget, and what was written before the kill.
  assert sorted(e["id"] for e in events) == list(range(MAX_PROGRAMS + 1))
  assert events[:len(before)] == before
  assert f"{MAX_PROGRAMS} / {MAX_PROGRAMS}" in stdout  # the summary: every program generated
  assert json.loads(folder.checkpoint_path.read_text())["state"]["generated"] == MAX_PROGRAMS
  # One worker per node: the one that died was the second node's; its batch was sent again,
  # and the rest was scored on the head (but for a batch that came back as the node died).
  died = set(re.findall(r"(worker-\d) died \(.*\); its \d+ programs are sent again", stderr))
  assert len(died) == 1, stderr[-3000:]
  on_head = {e["worker"] for e in events
             if e["worker"] and _worker_pid(e["worker"]) in head_processes}
  assert len(on_head) == 1 and not next(iter(on_head)).startswith(f"{died.pop()}@")
  after = collections.Counter(e["worker"] in on_head for e in events[logged_at_kill:]
                              if e["worker"])
  assert after[True] > 100 and after[False] <= 4  # a batch received as the node died


# ---- the cluster recipes (configs/cluster) --------------------------------------------------
RECIPES = ROOT / "configs" / "cluster"


def test_the_cluster_launcher_config_passes_rays_own_validation():
  util = pytest.importorskip("ray.autoscaler._private.util")  # what `ray up` runs on it
  import yaml  # pylint: disable=import-outside-toplevel
  config = yaml.safe_load((RECIPES / "aws.yaml").read_text())
  util.validate_config(util.prepare_config(config))
  head = config["available_node_types"][config["head_node_type"]]
  assert head["resources"] == {"CPU": 0}  # no evaluator actors on the head (README)
  assert "/home/ubuntu/optsearch" in config["file_mounts"]
  assert any("pip install -e /home/ubuntu/optsearch" in c for c in config["setup_commands"])


def test_the_kuberay_manifest_is_what_kubernetes_accepts():
  import yaml  # pylint: disable=import-outside-toplevel
  documents = {d["kind"]: d for d in yaml.safe_load_all((RECIPES / "kuberay.yaml").read_text())
               if d}
  cluster, claim = documents["RayCluster"], documents["PersistentVolumeClaim"]
  assert cluster["apiVersion"] == "ray.io/v1"
  spec = cluster["spec"]
  groups = [spec["headGroupSpec"], *spec["workerGroupSpecs"]]
  for group in groups:  # rayStartParams is a map of strings: an int is refused
    assert all(isinstance(v, str) for v in group["rayStartParams"].values()), group
  assert spec["headGroupSpec"]["rayStartParams"]["num-cpus"] == "0"
  head = spec["headGroupSpec"]["template"]["spec"]
  volume, = head["volumes"]
  assert volume["persistentVolumeClaim"]["claimName"] == claim["metadata"]["name"]
  mount, = head["containers"][0]["volumeMounts"]
  assert mount["name"] == volume["name"]
  readme = (RECIPES / "README.md").read_text()
  assert f"output.runs_dir={mount['mountPath']}" in readme  # the run folder on the volume
  assert f"service/{cluster['metadata']['name']}-head-svc" in readme
  assert f"rayproject/ray:{spec['rayVersion']}-py311" in readme  # the Dockerfile's base
  for worker in spec["workerGroupSpecs"]:
    assert worker["minReplicas"] <= worker["replicas"] <= worker["maxReplicas"]
