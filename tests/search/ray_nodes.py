"""Ray nodes as separate processes on this machine, for the cluster tests.

Each node is ``ray start --block`` in a session of its own, with its own ``--temp-dir``, so
that the test can find every process of that node (the ``ray start`` process, its descendants
and the members of its process group) and kill exactly those: never ``ray stop``, which would
stop every Ray instance on the machine, other people's included.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

# Token authentication is on by default for new clusters; nodes and drivers of a test cluster
# on loopback talk without it. The health checks are tightened so that the head declares a
# killed node dead within a few seconds instead of tens of seconds.
CLUSTER_ENV = {
    "RAY_AUTH_MODE": "disabled",
    "RAY_health_check_initial_delay_ms": "1000",
    "RAY_health_check_period_ms": "500",
    "RAY_health_check_timeout_ms": "1000",
    "RAY_health_check_failure_threshold": "4",
    "RAY_USAGE_STATS_ENABLED": "0",
}


def ray_executable() -> str:
  beside = pathlib.Path(sys.executable).with_name("ray")
  return str(beside) if beside.exists() else (shutil.which("ray") or "ray")


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def _stat(pid: int) -> list[str] | None:
  """The fields of ``/proc/PID/stat`` after the command name (state, ppid, pgrp, ...)."""
  try:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as f:
      return f.read().rsplit(")", 1)[1].split()
  except OSError:
    return None  # gone meanwhile


def _identity(pid: int) -> str | None:
  """The process's start time: with the pid, it names one process (pids are reused)."""
  fields = _stat(pid)
  return fields[19] if fields else None


def _processes() -> dict[int, tuple[int, int]]:
  """pid -> (parent pid, process group) of every process we can see."""
  out = {}
  for entry in os.listdir("/proc"):
    if entry.isdigit():
      fields = _stat(int(entry))
      if fields:
        out[int(entry)] = (int(fields[1]), int(fields[2]))
  return out


class RayNode:
  """One Ray node (``head=True``: the head, else joins ``address``) with ``num_cpus`` CPUs."""

  def __init__(self, head: bool, address: str = "", num_cpus: int = 1,
               env: dict[str, str] | None = None):
    self.head = head
    # Short: Ray puts Unix sockets under it (at most 107 characters).
    self.temp_dir = pathlib.Path(tempfile.mkdtemp(prefix="rayt", dir="/tmp"))
    self.log_path = self.temp_dir / "ray_start.log"
    # Every port that has a fixed default gets a free one: other Ray instances may be running.
    command = [ray_executable(), "start", f"--num-cpus={num_cpus}", "--disable-usage-stats",
               f"--temp-dir={self.temp_dir}", "--block",
               f"--dashboard-agent-listen-port={free_port()}",
               f"--dashboard-agent-grpc-port={free_port()}",
               f"--runtime-env-agent-port={free_port()}", f"--metrics-export-port={free_port()}"]
    if head:
      command += ["--head", "--port=0", "--include-dashboard=false",
                  f"--dashboard-port={free_port()}", f"--ray-client-server-port={free_port()}"]
    else:
      command += [f"--address={address}"]
    with open(self.log_path, "wb") as log:
      self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT,
                                      env={**os.environ, **CLUSTER_ENV, **(env or {})},
                                      start_new_session=True)
    self._known: dict[int, str] = {}  # pid -> start time, of every process seen

  def log(self) -> str:
    return self.log_path.read_text(errors="replace")

  def wait_started(self, timeout_s: float = 180.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
      if "Ray runtime started" in self.log():
        self.processes()  # remember them while the tree is whole
        return
      if self.process.poll() is not None:
        break
      time.sleep(0.2)
    raise RuntimeError(f"ray start did not start a node:\n{self.log()[-3000:]}")

  @property
  def address(self) -> str:
    """The head's GCS address, ``ip:port``."""
    return (self.temp_dir / "ray_current_cluster").read_text().strip()

  def processes(self) -> set[int]:
    """This node's live processes: ``ray start``, its descendants and its process group, and
    every one seen by an earlier call that still runs (orphaned since, e.g. a worker whose
    raylet was killed)."""
    root = self.process.pid
    table = _processes()
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in table.items():
      children.setdefault(parent, []).append(pid)
    found, stack = set(), [root] if root in table else []
    while stack:
      pid = stack.pop()
      if pid not in found:
        found.add(pid)
        stack.extend(children.get(pid, ()))
    found |= {pid for pid, (_, group) in table.items() if group == root}
    for pid in found:
      identity = _identity(pid)
      if identity is not None:
        self._known.setdefault(pid, identity)
    self._known = {pid: identity for pid, identity in self._known.items()
                   if _identity(pid) == identity}  # gone, or the pid is someone else's now
    return set(self._known)

  def kill(self) -> None:
    """SIGKILL to every process of this node (like a machine that is switched off)."""
    for pid in self.processes():
      try:
        os.kill(pid, signal.SIGKILL)
      except OSError:
        pass  # gone meanwhile
    try:
      self.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
      pass

  def cleanup(self) -> None:
    self.kill()
    shutil.rmtree(self.temp_dir, ignore_errors=True)
