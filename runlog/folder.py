"""The run folder ``runs/<name>/``: what a search leaves for people and for a resume.

::

    config.yaml         the resolved config (every key)
    events.jsonl        the event log's live segment: one line per program that joined a
                        population, in the order they joined: seq, id, parent, island, mutation,
                        key, fitness, status, seconds, worker, metric, normalized, reason,
                        program (text). The warm start is id 0. status "cached": the fitness of
                        an identical program, not trained again.
    events/             the log's closed segments, oldest first: 000001.jsonl.gz, ... (gzip,
                        ``SEGMENT_EVENTS`` lines each), and per segment 000001.index.json (its
                        line count and the key and fitness of its scored events, so a resume
                        rebuilds the fitness cache without unpacking it). The log is the
                        segments in order, then events.jsonl: read it with ``iter_events``.
    checkpoint.json     the whole search state after the first ``events`` lines of the log
    cost.json           CPU hours and throughput over all sessions (``search.cost``), written
                        with each checkpoint
    metrics.csv         the search over time (one row every ``metrics_every_s``)
    progress.png        best / median fitness, cache hit rate, redundant statements, programs/s
    programs/           initial.py, best.py (pruned), top_01.py ... top_k (pruned), scored text
    meta_validation.csv the best program scored on the meta-validation task every N scored
    meta_validation.png programs, next to its proxy fitness (with ``meta_validation.task``)
    funnel/             funnel selection at the end (with ``meta_validation.funnel_at_end``)
    owner.lock          who runs the search: held (``flock``) by the live search, with its
                        process id and host written in it (see "One owner" below)
    damaged_events.txt  lines ``--repair`` moved out of the log: ``FILE:LINE<tab>the line``

One owner: a search holds an exclusive ``flock`` on ``owner.lock`` from before it writes
anything until it exits. The kernel drops the lock with the process, however it ends (a
``kill -9`` or a lost machine's reboot included), so a crashed search never leaves its folder
stuck: the lock file stays, the lock does not. A second search on the folder finds the lock
held and stops (``RunFolderBusy``, naming the owner); readers (the funnel, analysis) take no
lock and may ask ``live_owner`` whether the log they read is still growing.

Damage: the checkpoint is derived data (the state after the first ``events`` lines of the log),
so an unreadable one is set aside (``checkpoint.json.damaged``) and the state is rebuilt by
replaying the whole log. The log is the record: a damaged line in it (not JSON, not an event)
is an error naming ``FILE:LINE`` (``DamagedLog``), and ``repair_events`` moves such lines to
damaged_events.txt, keeping every intact event in its order.

Crash safety: whole files are written to a temporary file, fsynced and renamed over the old one
(``atomic_write``), so a reader sees the old or the new file, never a mix. The two logs are
append-only; a crash can tear only their last line, which ``read_jsonl``/``repair_log`` drop
(and cut from the file before anything is appended again). The checkpoint is written only after
the events it covers are fsynced, so replaying the newer events on top of it is always possible.

The event log grows by megabytes a minute (a week of search: ~80 GB of text), so it is never
read into memory whole and it is rotated: once events.jsonl holds ``SEGMENT_EVENTS`` lines it
is fsynced and closed, then (1) renamed to events/NNNNNN.jsonl (the plain segment) and a new
events.jsonl started; in a thread, while the search goes on, the plain segment is (2)
compressed to a temporary file, fsynced, (3) indexed (``atomic_write``), (4) the temporary
renamed to events/NNNNNN.jsonl.gz, and (5) deleted. Each event is in exactly one place at
every moment: events.jsonl or segment NNNNNN, which readers take from the .gz once it exists
(it is complete: renamed only after fsync) and from the plain file before (the same lines). A
crash at any step loses and duplicates nothing; ``open_logs`` finishes what it left
(compresses a plain segment, deletes one whose .gz exists, removes temporaries). Readers never
write and may read while a search appends: a rotation between listing events/ and opening
events.jsonl shows up as a new segment in a second listing, and the file opened is then read
after it.
"""

from __future__ import annotations

import csv
import fcntl
import gzip
import io
import json
import math
import os
import pathlib
import re
import socket
import tempfile
import threading
import zlib
from typing import IO, Any, Iterable, Iterator, Mapping, Sequence

from dsl.files import atomic_write
from dsl.files import fsync_directory, json_safe
from dsl.scores import ranked_fitness

METRICS_COLUMNS = ("elapsed_s", "generated", "scored", "cached", "failed", "cache_hit_rate",
                   "redundant_fraction", "best_fitness", "median_fitness", "programs_per_s",
                   "driver_busy", "restarts", "hurdle_stopped", "hurdle_saved_s")


# A closed segment: ~65 MB of real events, ~10 MB gzipped, rotated every ~10 minutes of search.
SEGMENT_EVENTS = 100_000
# Measured on a real log: 6.8x at ~20 MB/s; level 9 packs 4% smaller at a quarter of the speed.
GZIP_LEVEL = 6
INDEX_FORMAT = 1
_SEGMENT_FILE = re.compile(r"(\d{6,})\.(jsonl\.gz|jsonl|index\.json)")
# In a line ``append_event`` wrote (compact JSON, quotes in strings escaped) this is only ever
# the status of a cache hit: such lines are skipped unparsed where only scores are wanted.
_CACHED = b'"status":"cached"'
_BLOCK = 1 << 16


def repair_log(path: str | os.PathLike) -> bool:
  """Cuts a torn last line (no final newline) off an append-only log; True if it cut one.

  Reads only the end of the file (back to its last newline)."""
  path = pathlib.Path(path)
  if not path.exists():
    return False
  with open(path, "rb+") as f:
    end = f.seek(0, os.SEEK_END)
    if end == 0:
      return False
    f.seek(end - 1)
    if f.read(1) == b"\n":
      return False
    f.truncate(_after_last_newline(f, end))
    f.flush()
    os.fsync(f.fileno())
  return True


def _after_last_newline(f: IO[bytes], end: int) -> int:
  """The offset just past the last newline before ``end`` (0 if none), read backwards."""
  position = end
  while position > 0:
    start = max(0, position - _BLOCK)
    f.seek(start)
    newline = f.read(position - start).rfind(b"\n")
    if newline >= 0:
      return start + newline + 1
    position = start
  return 0


def _count_lines(path: pathlib.Path) -> int:
  try:
    f = open(path, "rb")
  except FileNotFoundError:
    return 0
  with f:
    return sum(block.count(b"\n") for block in iter(lambda: f.read(1 << 20), b""))


def _open_log(path: pathlib.Path) -> IO[bytes]:
  return gzip.open(path, "rb") if path.name.endswith(".gz") else open(path, "rb")


def _complete_lines(stream: IO[bytes], path: pathlib.Path) -> Iterator[bytes]:
  """The lines of ``stream`` that end in a newline: a torn last line (a killed write, or one
  being written now) is left out."""
  try:
    for line in stream:
      if line.endswith(b"\n"):
        yield line
  except (OSError, EOFError, zlib.error) as e:  # a damaged .gz segment
    raise ValueError(f"{path}: unreadable log segment ({e})") from None


class DamagedLog(ValueError):
  """A line of the event log that is not an event: ``where`` is ``FILE:LINE``."""

  def __init__(self, where: str, why: str):
    super().__init__(f"{where}: corrupt log line ({why})")
    self.where = where
    self.why = why


class RunFolderBusy(Exception):
  """The run folder is owned by another live search; ``owner`` says which (pid, host)."""

  def __init__(self, path: pathlib.Path, owner: str):
    super().__init__(f"{path} is in use by another search ({owner}); wait for it to end, or "
                     "stop it (Ctrl-C) and run this again")
    self.path = path
    self.owner = owner


def _json_error(error: ValueError) -> str:
  """What is wrong with a line ``json.loads`` refused, with the column."""
  if not isinstance(error, json.JSONDecodeError):
    return str(error)
  return f"{error.msg}{'' if error.msg.endswith(' at') else ' at'} column {error.colno}"


def _parse(line: bytes, path: pathlib.Path, number: int) -> dict[str, Any]:
  try:
    return json.loads(line)
  except ValueError as e:  # JSONDecodeError, or bytes that are not UTF-8
    raise DamagedLog(f"{path}:{number}", _json_error(e)) from None


# What every event line holds, and the types a resume relies on.
EVENT_FIELDS = {"id": int, "key": str, "status": str, "program": str}
_SCORE_FIELDS = ("key", "status")  # all that rebuilding the fitness cache reads


def check_event(event: Any, where: str, fields: Iterable[str] = tuple(EVENT_FIELDS)
                ) -> dict[str, Any]:
  """``event`` if it is an event (an object with ``fields`` of ``EVENT_FIELDS``' types), else
  ``DamagedLog`` at ``where`` (``FILE:LINE``)."""
  if not isinstance(event, dict):
    raise DamagedLog(where, "a JSON value that is not an event")
  for field in fields:
    kind = EVENT_FIELDS[field]
    if not isinstance(event.get(field), kind) or (kind is int and isinstance(event[field], bool)):
      raise DamagedLog(where, f"an event without a valid '{field}'")
  return event


def _score(line: bytes, path: pathlib.Path, number: int) -> list | None:
  """``[key, fitness]`` of a scored event's line, None for a cache hit's (or a blank line)."""
  if _CACHED in line or line.isspace():
    return None
  event = check_event(_parse(line, path, number), f"{path}:{number}", _SCORE_FIELDS)
  fitness = event.get("fitness")
  try:
    ranked_fitness(fitness)  # a number, null (older logs) or json_float's "-inf"/"nan"
  except ValueError:
    raise DamagedLog(f"{path}:{number}", "an event whose 'fitness' is not a number") from None
  return None if event["status"] == "cached" else [event["key"], fitness]


def read_event(line: bytes, where: str) -> dict[str, Any]:
  """The event on ``line`` of the log, checked as a resume reads it (JSON, ``EVENT_FIELDS``,
  a program that parses); ``DamagedLog`` at ``where`` otherwise."""
  import dsl  # pylint: disable=import-outside-toplevel
  from dsl.program import ProgramError  # pylint: disable=import-outside-toplevel
  try:
    event = json.loads(line)
  except ValueError as e:
    raise DamagedLog(where, _json_error(e)) from None
  check_event(event, where)
  try:
    dsl.parse(event["program"])
  except ProgramError as e:
    raise DamagedLog(where, f"its program does not parse: {str(e).splitlines()[0]}") from None
  return event


def iter_jsonl(path: str | os.PathLike, start: int = 0) -> Iterator[dict[str, Any]]:
  """The complete lines of a JSON-lines log (plain or ``.gz``) one at a time, from the
  ``start``-th on (earlier lines are counted, not parsed); a torn last line is ignored."""
  path = pathlib.Path(path)
  try:
    stream = _open_log(path)
  except FileNotFoundError:
    return
  with stream:
    seen = 0
    for number, line in enumerate(_complete_lines(stream, path), 1):
      if line.isspace():
        continue
      if seen >= start:
        yield _parse(line, path, number)
      seen += 1


def read_jsonl(path: str | os.PathLike) -> list[dict[str, Any]]:
  """The complete lines of a JSON-lines log as a list (a torn last line is ignored); read line
  by line, but the list is the whole log: ``iter_jsonl`` for long ones."""
  return list(iter_jsonl(path))


def _rotation_step(step: str) -> None:
  """Marks the point after ``step`` of a rotation; tests raise here to simulate a crash."""
  del step


class _Segment:
  """Closed segment ``number`` of the log: its index, and its lines from the .gz or, while it
  is being compressed, from the plain file."""

  def __init__(self, folder: "RunFolder", number: int):
    self.folder = folder
    self.number = number

  def index(self) -> dict[str, Any] | None:
    """``{"format", "events", "scores"}``, or None if missing or unreadable (then the segment
    itself is read: the index is derived data)."""
    try:
      data = json.loads(self.folder.segment_file(self.number, "index.json").read_bytes())
    except (FileNotFoundError, ValueError):
      return None
    if (isinstance(data, dict) and data.get("format") == INDEX_FORMAT
        and isinstance(data.get("events"), int) and isinstance(data.get("scores"), list)):
      return data
    return None

  def open(self) -> tuple[pathlib.Path, IO[bytes]]:
    # A running rotation may delete the plain file between the two tries: the .gz is then there.
    for kind in ("jsonl.gz", "jsonl", "jsonl.gz"):
      path = self.folder.segment_file(self.number, kind)
      try:
        return path, _open_log(path)
      except FileNotFoundError:
        continue
    raise FileNotFoundError(f"{self.folder.segments_path}: segment {self.number:06d} vanished "
                            "while being read")


class _Live:
  """events.jsonl, opened by ``RunFolder._sources``."""

  def __init__(self, path: pathlib.Path, stream: IO[bytes]):
    self.path = path
    self.stream = stream

  def index(self) -> None:
    return None

  def open(self) -> tuple[pathlib.Path, IO[bytes]]:
    return self.path, self.stream


_OWNED: dict[pathlib.Path, int] = {}  # run folders this process owns -> lock descriptor


class RunFolder:
  """Reads and writes one run folder; see the module docstring for its layout."""

  def __init__(self, path: str | os.PathLike):
    self.path = pathlib.Path(path)
    self.programs = self.path / "programs"
    self.config_path = self.path / "config.yaml"
    self.events_path = self.path / "events.jsonl"
    self.segments_path = self.path / "events"
    self.checkpoint_path = self.path / "checkpoint.json"
    self.metrics_path = self.path / "metrics.csv"
    self.plot_path = self.path / "progress.png"
    self.lock_path = self.path / "owner.lock"
    self.damaged_path = self.path / "damaged_events.txt"
    self._lock: int | None = None  # the descriptor holding the owner's flock
    self._events = None
    self._events_lines = 0  # lines in events.jsonl: rotated at SEGMENT_EVENTS
    self._compressing: threading.Thread | None = None  # the segment being compressed
    self._compression_error: BaseException | None = None
    self._metrics = None

  # ---- opening ----------------------------------------------------------------------------
  def exists(self) -> bool:
    return self.config_path.exists()

  # ---- the owner ----------------------------------------------------------------------------
  def claim(self) -> None:
    """Makes this process the folder's one owner (creating the folder) until it exits or calls
    ``release``; ``RunFolderBusy`` if a live search holds it (see "One owner")."""
    if self._lock is not None:
      return
    self.path.mkdir(parents=True, exist_ok=True)
    writable = True
    try:
      descriptor = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:  # a read-only folder: the lock still works, the search will not
      if not self.lock_path.exists():
        raise
      descriptor, writable = os.open(self.lock_path, os.O_RDONLY), False
    try:
      fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      os.close(descriptor)
      raise RunFolderBusy(self.path, self._owner_text()) from None
    if writable:
      owner = f"pid {os.getpid()} on host {socket.gethostname()}\n".encode()
      os.ftruncate(descriptor, 0)
      os.pwrite(descriptor, owner, 0)
    self._lock = descriptor
    _OWNED[self.path.resolve()] = descriptor

  def release(self) -> None:
    """Gives up ownership (the lock file stays: removing it could let two searches in)."""
    if self._lock is None:
      return
    _OWNED.pop(self.path.resolve(), None)
    fcntl.flock(self._lock, fcntl.LOCK_UN)
    os.close(self._lock)
    self._lock = None

  def live_owner(self) -> str | None:
    """Who owns the folder if another live process does (pid, host), else None."""
    if self.path.resolve() in _OWNED:
      return None  # this process: its search is not running while it asks
    try:
      descriptor = os.open(self.lock_path, os.O_RDONLY)
    except FileNotFoundError:
      return None
    try:
      fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
      return self._owner_text()
    finally:
      os.close(descriptor)  # closing drops a shared lock taken just now
    return None

  def _owner_text(self) -> str:
    try:
      text = self.lock_path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
      text = ""
    return text or "its owner is starting"

  def create(self, config_yaml: str, initial_program_text: str) -> None:
    """A new run: the folder, its config and the initial program (never overwrites)."""
    if self.exists():
      raise FileExistsError(f"{self.path} already holds a run")
    self.programs.mkdir(parents=True, exist_ok=True)
    atomic_write(self.programs / "initial.py", initial_program_text)
    atomic_write(self.config_path, config_yaml)  # last: a folder with a config is a run

  @property
  def logs_open(self) -> bool:
    return self._events is not None and not self._events.closed

  def open_logs(self) -> None:
    """Opens the logs for appending, first finishing a rotation a crash interrupted and cutting
    any torn last line."""
    self._wait_for_compression()
    self._finish_rotations()
    repair_log(self.events_path)
    repair_log(self.metrics_path)
    self._events_lines = _count_lines(self.events_path)
    new_metrics = not self.metrics_path.exists() or self.metrics_path.stat().st_size == 0
    self._events = open(self.events_path, "a", encoding="utf-8")
    self._metrics = open(self.metrics_path, "a", encoding="utf-8", newline="")
    if new_metrics:
      self._metrics.write(",".join(METRICS_COLUMNS) + "\n")
      self._metrics.flush()
    if self._events_lines >= SEGMENT_EVENTS:
      self._rotate()

  def close(self) -> None:
    """Closes the logs, after the segment being compressed (if any) is done."""
    for log in (self._events, self._metrics):
      if log is not None and not log.closed:
        log.flush()
        os.fsync(log.fileno())
        log.close()
    self._wait_for_compression()

  # ---- the logs -----------------------------------------------------------------------------
  def append_event(self, event: Mapping[str, Any]) -> None:
    """One line per program that joined a population; flushed to the OS at once (a killed
    process loses nothing written), fsynced by ``sync``."""
    line = json.dumps(json_safe(dict(event)), separators=(",", ":"))
    self._events.write(line + "\n")
    self._events.flush()
    self._events_lines += 1
    if self._events_lines >= SEGMENT_EVENTS:
      self._rotate()

  def has_events(self) -> bool:
    return self.events_path.exists() or bool(self._segment_numbers())

  def iter_events(self, start: int = 0, locations: bool = False) -> Iterator[Any]:
    """The events from the ``start``-th on (0-based), oldest first, one at a time: closed
    segments in order, then events.jsonl (a torn last line is ignored). Earlier events are
    skipped unparsed, whole segments by their index. With ``locations``: ``("FILE:LINE",
    event)`` pairs, for error messages."""
    for path, number, line in self._lines(start):
      event = _parse(line, path, number)
      yield (f"{path}:{number}", event) if locations else event

  def repair_events(self) -> tuple[list[str], int | None]:
    """Moves every damaged line of the log (``read_event`` refuses it) to
    damaged_events.txt as ``FILE:LINE<tab>line``, keeping every intact event in its order.

    Returns the moved lines' ``FILE:LINE`` and the index (0-based, among the log's events as
    they were counted before) of the first one, or None. Each file is rewritten only after its
    damaged lines are safely in damaged_events.txt (fsynced), and atomically; a segment loses
    its index first (then is read whole until it has a new one), so a crash at any point loses
    no line. Run by the folder's owner, with its logs closed.
    """
    self._wait_for_compression()
    self._finish_rotations()
    moved: list[str] = []
    first: int | None = None
    seen = 0
    for source in self._sources():
      path, stream = source.open()
      kept, damaged = [], []
      with stream:
        for number, line in enumerate(_complete_lines(stream, path), 1):
          if line.isspace():
            kept.append(line)
            continue
          try:
            read_event(line, f"{path}:{number}")
            kept.append(line)
          except DamagedLog:
            damaged.append(f"{path}:{number}\t".encode() + line)
            moved.append(f"{path}:{number}")
            first = seen if first is None else first
          seen += 1
      if not damaged:
        continue
      with open(self.damaged_path, "ab") as aside:
        aside.write(b"".join(damaged))
        aside.flush()
        os.fsync(aside.fileno())
      if isinstance(source, _Live):
        atomic_write(self.events_path, b"".join(kept))
        continue
      index = self.segment_file(source.number, "index.json")
      if index.exists():
        os.unlink(index)
        fsync_directory(self.segments_path)
      atomic_write(self.segment_file(source.number, "jsonl.gz"),
                   gzip.compress(b"".join(kept), compresslevel=GZIP_LEVEL, mtime=0))
      scores = [score for number, line in enumerate(kept, 1)
                if (score := _score(line, path, number)) is not None]
      atomic_write(index, json.dumps(
          {"format": INDEX_FORMAT, "events": sum(not line.isspace() for line in kept),
           "scores": scores}, separators=(",", ":")))
    return moved, first

  def count_events(self) -> int:
    """How many events the log holds: closed segments by their index, the rest counted."""
    count = 0
    for source in self._sources():
      index = source.index()
      if index is not None:
        count += index["events"]
        continue
      path, stream = source.open()
      with stream:
        count += sum(not line.isspace() for line in _complete_lines(stream, path))
    return count

  def events(self) -> list[dict[str, Any]]:
    """Every event, as a list: for tests and short runs (``iter_events`` streams)."""
    return list(self.iter_events())

  def scores(self) -> Iterator[tuple[str, Any]]:
    """``(key, fitness)`` of every scored (not "cached") event, oldest first: what rebuilds the
    fitness cache. Closed segments answer from their index; other lines of cache hits are
    skipped unparsed. ``fitness`` is as logged (``"-inf"`` for a failed run; read it with
    ``dsl.ranked_fitness``)."""
    for source in self._sources():
      index = source.index()
      if index is not None:
        for key, fitness in index["scores"]:
          yield key, fitness
        continue
      path, stream = source.open()
      with stream:
        for number, line in enumerate(_complete_lines(stream, path), 1):
          score = _score(line, path, number)
          if score is not None:
            yield score[0], score[1]

  def _lines(self, start: int = 0) -> Iterator[tuple[pathlib.Path, int, bytes]]:
    """``(file, line number in it, line)`` of every event from the ``start``-th on."""
    seen = 0
    for source in self._sources():
      if seen < start:
        index = source.index()
        if index is not None and seen + index["events"] <= start:
          seen += index["events"]
          continue
      path, stream = source.open()
      with stream:
        for number, line in enumerate(_complete_lines(stream, path), 1):
          if line.isspace():
            continue
          if seen >= start:
            yield path, number, line
          seen += 1

  def _sources(self) -> Iterator[_Segment | _Live]:
    """The closed segments in order, then events.jsonl if it exists.

    events.jsonl is opened before a last listing of events/: a segment there that was not read
    yet was rotated in meanwhile (the file opened is newer than it), so it is read first.
    """
    last = 0
    while True:
      for number in self._segment_numbers(after=last):
        yield _Segment(self, number)
        last = number
      try:
        stream = open(self.events_path, "rb")
      except FileNotFoundError:
        stream = None
      if self._segment_numbers(after=last):
        if stream is not None:
          stream.close()
        continue
      if stream is not None:
        try:
          yield _Live(self.events_path, stream)
        finally:
          stream.close()
      return

  # ---- segments of the event log ----------------------------------------------------------
  def segment_file(self, number: int, kind: str) -> pathlib.Path:
    """``events/NNNNNN.<kind>``; kind ``jsonl.gz``, ``jsonl`` (mid-rotation) or ``index.json``."""
    return self.segments_path / f"{number:06d}.{kind}"

  def _segment_numbers(self, after: int = 0) -> list[int]:
    try:
      names = os.listdir(self.segments_path)
    except FileNotFoundError:
      return []
    return sorted({int(match[1]) for match in map(_SEGMENT_FILE.fullmatch, names)
                   if match and match[2] != "index.json" and int(match[1]) > after})

  def _rotate(self) -> None:
    """Closes events.jsonl as the next segment of events/ and starts a new one. The segment is
    compressed in a thread: the search goes on meanwhile (gzip, most of the work, releases the
    GIL), and a crash there is one at a step of ``_compress``, finished by ``open_logs``."""
    self._wait_for_compression()
    self._events.flush()
    os.fsync(self._events.fileno())
    self._events.close()
    self.segments_path.mkdir(exist_ok=True)
    numbers = self._segment_numbers()
    number = (numbers[-1] if numbers else 0) + 1
    os.replace(self.events_path, self.segment_file(number, "jsonl"))
    fsync_directory(self.segments_path)
    fsync_directory(self.path)
    _rotation_step("renamed")
    self._events = open(self.events_path, "a", encoding="utf-8")
    self._events_lines = 0
    self._compressing = threading.Thread(target=self._compress_in_background, args=(number,),
                                         name=f"compress events/{number:06d}", daemon=True)
    self._compressing.start()

  def _compress_in_background(self, number: int) -> None:
    try:
      self._compress(number)
    except BaseException as error:  # pylint: disable=broad-except  # raised by the next wait
      self._compression_error = error

  def _wait_for_compression(self) -> None:
    """Waits for the segment being compressed; raises what failed there (the plain segment is
    then still in events/, read in its place and compressed again by ``open_logs``)."""
    if self._compressing is not None:
      self._compressing.join()
      self._compressing = None
    error, self._compression_error = self._compression_error, None
    if error is not None:
      raise error

  def _compress(self, number: int) -> None:
    """Plain segment ``number`` -> its .gz and index (published in that order), then the plain
    file goes. A crash leaves a temporary (removed by ``_finish_rotations``) or the plain file
    (compressed again) or both it and the complete .gz (the plain one is deleted)."""
    plain = self.segment_file(number, "jsonl")
    packed = self.segment_file(number, "jsonl.gz")
    events, scores = 0, []
    descriptor, temporary = tempfile.mkstemp(prefix=f".{packed.name}.", suffix=".tmp",
                                             dir=self.segments_path)
    # No clean-up on failure: a crash could not do it either, and the next open_logs does.
    with os.fdopen(descriptor, "wb") as raw:
      with open(plain, "rb") as source, gzip.GzipFile(
          filename="", mode="wb", fileobj=raw, compresslevel=GZIP_LEVEL, mtime=0) as packer:
        chunk, size = [], 0
        for line_number, line in enumerate(_complete_lines(source, plain), 1):
          chunk.append(line)
          size += len(line)
          if size >= 1 << 20 or line_number == 1:
            packer.write(b"".join(chunk))
            chunk, size = [], 0
            if line_number == 1:
              _rotation_step("compressing")
          if not line.isspace():
            events += 1
          score = _score(line, plain, line_number)
          if score is not None:
            scores.append(score)
        packer.write(b"".join(chunk))
      raw.flush()
      os.fsync(raw.fileno())
    _rotation_step("compressed")
    atomic_write(self.segment_file(number, "index.json"), json.dumps(
        {"format": INDEX_FORMAT, "events": events, "scores": scores}, separators=(",", ":")))
    _rotation_step("indexed")
    os.replace(temporary, packed)
    fsync_directory(self.segments_path)
    _rotation_step("published")
    os.unlink(plain)
    fsync_directory(self.segments_path)
    _rotation_step("removed")

  def _finish_rotations(self) -> None:
    """Completes the rotation a crash interrupted (see the module docstring)."""
    try:
      names = os.listdir(self.segments_path)
    except FileNotFoundError:
      return
    files: dict[str, set[int]] = {"jsonl": set(), "jsonl.gz": set(), "index.json": set()}
    for name in names:
      if name.startswith(".") and name.endswith(".tmp"):
        os.unlink(self.segments_path / name)
      elif match := _SEGMENT_FILE.fullmatch(name):
        files[match[2]].add(int(match[1]))
    for number in sorted(files["jsonl"]):
      if number in files["jsonl.gz"]:
        os.unlink(self.segment_file(number, "jsonl"))
      else:
        self._compress(number)
    for number in files["index.json"] - files["jsonl"] - files["jsonl.gz"]:
      os.unlink(self.segment_file(number, "index.json"))  # its segment was deleted by hand
    fsync_directory(self.segments_path)

  def append_metrics(self, row: Mapping[str, Any]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerow(
        ["" if row.get(c) is None or (isinstance(row.get(c), float) and math.isnan(row[c]))
         else (f"{row[c]:.6g}" if isinstance(row[c], float) else row[c])
         for c in METRICS_COLUMNS])
    self._metrics.write(buffer.getvalue())
    self._metrics.flush()

  def metrics(self) -> list[dict[str, float]]:
    if not self.metrics_path.exists():
      return []
    text = self.metrics_path.read_text(encoding="utf-8")
    text = text[:text.rfind("\n") + 1]
    rows = []
    for row in csv.DictReader(io.StringIO(text)):
      try:
        rows.append({k: (float(v) if v not in ("", None) else math.nan)
                     for k, v in row.items() if k is not None})
      except (TypeError, ValueError):  # a damaged row: the curves go on without it
        continue
    return rows

  def last_elapsed(self) -> float:
    """``elapsed_s`` of metrics.csv's last readable row (0 if none): where a resumed run's
    clock must go on from, even if its checkpoint is older. Reads only the file's end."""
    try:
      f = open(self.metrics_path, "rb")
    except FileNotFoundError:
      return 0.0
    with f:
      start = max(0, f.seek(0, os.SEEK_END) - _BLOCK)
      f.seek(start)
      lines = f.read().split(b"\n")[(1 if start else 0):-1]  # whole lines only
    for line in reversed(lines):
      field = line.split(b",", 1)[0]
      try:
        value = float(field)
      except ValueError:
        continue
      if math.isfinite(value):
        return value
    return 0.0

  def sync(self) -> None:
    """Forces the logs to disk (before a checkpoint that claims their lines)."""
    for log in (self._events, self._metrics):
      if log is not None and not log.closed:
        log.flush()
        os.fsync(log.fileno())

  # ---- the checkpoint ---------------------------------------------------------------------
  def write_checkpoint(self, state_json: Mapping[str, Any]) -> None:
    self.sync()
    text = json.dumps(json_safe(dict(state_json)), separators=(",", ":"))
    atomic_write(self.checkpoint_path, text)

  def read_checkpoint(self) -> dict[str, Any] | None:
    """The checkpoint, None if there is none. Raises ``ValueError`` if it is not JSON (atomic
    writes make that a foreign edit or a damaged disk, not a crash)."""
    try:
      text = self.checkpoint_path.read_bytes()
    except FileNotFoundError:
      return None
    try:
      data = json.loads(text)
    except ValueError as e:  # JSONDecodeError, or bytes that are not UTF-8
      raise ValueError(f"{self.checkpoint_path}: corrupt checkpoint "
                       f"({getattr(e, 'msg', e)})") from None
    if not isinstance(data, dict):
      raise ValueError(f"{self.checkpoint_path}: corrupt checkpoint (not an object)")
    return data

  def set_checkpoint_aside(self, why: str = "damaged") -> pathlib.Path:
    """Renames the checkpoint to ``checkpoint.json.<why>`` (``.<why>.2``... if taken: kept,
    never deleted; the state is then rebuilt from the log); returns the new path."""
    for number in range(1, 1_000_000):
      aside = self.checkpoint_path.with_name(
          f"{self.checkpoint_path.name}.{why}" + (f".{number}" if number > 1 else ""))
      if not aside.exists():
        break
    os.replace(self.checkpoint_path, aside)
    fsync_directory(self.path)
    return aside

  # ---- programs and plots -----------------------------------------------------------------
  def write_programs(self, ranked: Sequence[tuple[float, int, str, str]]) -> None:
    """``programs/best.py`` and ``top_NN.py`` from ``(fitness, id, key, text)``, best first."""
    self.programs.mkdir(parents=True, exist_ok=True)
    for rank, (fitness, program_id, key, text) in enumerate(ranked, 1):
      header = (f"# Rank {rank} of run '{self.path.name}': program {program_id}, fitness "
                f"{fitness:.6g}, key {key[:16]}.\n")
      atomic_write(self.programs / f"top_{rank:02d}.py", header + text)
      if rank == 1:
        atomic_write(self.programs / "best.py", header + text)

  def write_plots(self, rows: Iterable[Mapping[str, float]] | None = None) -> None:
    """``progress.png``: the curves of metrics.csv against programs generated, like Figure 2
    of Chen et al. (2023)."""
    rows = list(self.metrics() if rows is None else rows)
    if not rows:
      return
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel

    x = [r["generated"] for r in rows]
    figure, axes = plt.subplots(2, 2, figsize=(10, 7), constrained_layout=True)
    panels = ((axes[0, 0], ("best_fitness", "median_fitness"), "fitness"),
              (axes[0, 1], ("cache_hit_rate", "driver_busy"), "fraction"),
              (axes[1, 0], ("redundant_fraction",), "redundant statements (fraction)"),
              (axes[1, 1], ("programs_per_s",), "programs/s (scored + cached)"))
    for axis, columns, label in panels:
      for column in columns:
        axis.plot(x, [r.get(column, math.nan) for r in rows], label=column)
      axis.set_xlabel("programs generated")
      axis.set_ylabel(label)
      axis.grid(alpha=0.3)
      if len(columns) > 1:
        axis.legend()
    figure.suptitle(f"run {self.path.name}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    atomic_write(self.plot_path, buffer.getvalue())
