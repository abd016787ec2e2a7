"""The lineage of a program of a run: the chain of mutations from the initial program to it.

::

    python -m search.lineage runs/NAME                  # the best program of the run
    python -m search.lineage runs/NAME --id 1234        # any program of the event log
    python -m search.lineage runs/NAME --png lineage.png --dot lineage.dot

Prints one block per step, the initial program first: the program's id, its mutation
(``modify@3``: the kind and the statement index it touched), its fitness, and the statements
it changed (the lines of its text that differ from its parent's, ``-`` removed, ``+`` added);
the initial program in full, and the program itself in full at the end. ``--png`` draws the
fitness along the chain (matplotlib), ``--dot`` writes the chain as Graphviz DOT (one node per
step, labelled with its mutation, fitness and changes).

``--best`` (the default) is the program ``programs/best.py`` shows: the highest finite
fitness in the log, the lowest id among equals (``search.evolution.top``'s order).

Every child's ``parent`` is the id of a program that joined a population before it: a child of
the warm start, or of an island restarted from its best, names that program (the warm start
is program 0, whose parent is none). So the chain is read in two streamed passes over the
event log (``RunFolder.iter_events``; a week of search is far larger than memory): the first
keeps one integer per program (its parent, in an array indexed by id) and the best so far, the
second keeps the events of the chain only, and stops once it has them all.

Bad input (a folder that is not a run, an unknown id, a corrupt log line, an event without its
fields) is one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import array
import dataclasses
import difflib
import io
import math
import pathlib
import sys
from typing import Any, Sequence, TextIO

import networkx as nx

from dsl.graph import to_dot
from dsl.files import atomic_write
from dsl.scores import ranked_fitness
from runlog.folder import RunFolder

EXIT_OK = 0
EXIT_INVALID = 2
_UNKNOWN = -2  # no event for this id (yet)
_ROOT = -1  # an event whose parent is none: the warm start
_MAX_IDS_AHEAD = 1_000_000  # far more children than are ever in flight at once


class LineageError(ValueError):
  """Bad input: printed as one line, exit status 2."""


@dataclasses.dataclass(frozen=True)
class Step:
  """One program of the chain, as its event recorded it."""
  id: int
  parent: int | None
  mutation: str
  island: int | None
  fitness: float  # -inf for a failed program
  status: str
  program: str  # the canonical text

  @property
  def kind(self) -> str:
    """The mutation's kind (``modify`` of ``modify@3``; ``initial`` for the warm start)."""
    return self.mutation.split("@", 1)[0]


@dataclasses.dataclass(frozen=True)
class Lineage:
  """The chain of ``steps`` from the initial program (first) to ``steps[-1]``."""
  run: pathlib.Path
  steps: tuple[Step, ...]

  @property
  def program(self) -> Step:
    return self.steps[-1]

  def changes(self, index: int) -> list[str]:
    """The lines of step ``index``'s text that differ from its parent's: ``- old`` lines, then
    ``+ new`` lines, per changed block (difflib, no context)."""
    if index == 0:
      return []
    old = self.steps[index - 1].program.splitlines()
    new = self.steps[index].program.splitlines()
    lines = []
    for tag, old_from, old_to, new_from, new_to in difflib.SequenceMatcher(
        None, old, new, autojunk=False).get_opcodes():
      if tag == "equal":
        continue
      lines += [f"- {line.strip()}" for line in old[old_from:old_to]]
      lines += [f"+ {line.strip()}" for line in new[new_from:new_to]]
    return lines

  def report(self) -> str:
    """The text ``python -m search.lineage`` prints."""
    target = self.program
    mutations = len(self.steps) - 1
    out = [f"Lineage of program {target.id} of run {self.run.name} (fitness "
           f"{_fitness_text(target.fitness)}): {mutations} mutation"
           f"{'' if mutations == 1 else 's'} from the initial program.", ""]
    for index, step in enumerate(self.steps):
      island = "" if step.island is None else f"  island {step.island}"
      cached = "  (cached)" if step.status == "cached" else ""
      out.append(f"[{index}] program {step.id}  {step.mutation}  fitness "
                 f"{_fitness_text(step.fitness)}{island}{cached}")
      if index == 0:
        out += [f"    {line}" for line in step.program.rstrip("\n").splitlines()]
      else:
        changes = self.changes(index)
        out += [f"    {line}" for line in changes] or ["    (same text as its parent)"]
    out += ["", f"Program {target.id}:", target.program.rstrip("\n")]
    return "\n".join(out) + "\n"

  def graph(self) -> nx.DiGraph:
    """The chain as a directed graph: one node per step (``label``: id, mutation, fitness and
    changes), an edge from each parent to its child."""
    g = nx.DiGraph(name=f"lineage of program {self.program.id} ({self.run.name})")
    for index, step in enumerate(self.steps):
      label = [f"program {step.id}: {step.mutation}", f"fitness {_fitness_text(step.fitness)}"]
      label += self.changes(index)
      g.add_node(step.id, label="\n".join(label), mutation=step.mutation, fitness=step.fitness)
      if index:
        g.add_edge(self.steps[index - 1].id, step.id)
    return g

  def dot(self) -> str:
    """Graphviz DOT of ``graph()`` (``dsl.graph.to_dot``: no pydot or pygraphviz needed)."""
    return to_dot(self.graph())

  def png(self) -> bytes:
    """The fitness of each step along the chain, coloured by mutation kind, as PNG bytes."""
    import matplotlib  # pylint: disable=import-outside-toplevel
    matplotlib.use("Agg")
    from matplotlib import pyplot as plt  # pylint: disable=import-outside-toplevel

    fitness = [step.fitness if math.isfinite(step.fitness) else math.nan for step in self.steps]
    figure, axis = plt.subplots(figsize=(max(6.0, min(18.0, 0.35 * len(self.steps))), 4.5),
                                constrained_layout=True)
    axis.plot(range(len(self.steps)), fitness, color="grey", linewidth=1, zorder=1)
    colors = {"initial": "black", "insert": "tab:green", "delete": "tab:red",
              "modify": "tab:blue"}
    for kind in dict.fromkeys(step.kind for step in self.steps):
      indices = [i for i, step in enumerate(self.steps) if step.kind == kind]
      axis.scatter(indices, [fitness[i] for i in indices], label=kind, zorder=2,
                   color=colors.get(kind, "tab:purple"))
    failed = [i for i, value in enumerate(fitness) if math.isnan(value)]
    if failed:
      bottom = min((v for v in fitness if not math.isnan(v)), default=0.0)
      axis.scatter(failed, [bottom] * len(failed), marker="x", color="red", label="failed")
    if len(self.steps) <= 40:
      for index, step in enumerate(self.steps):
        if not math.isnan(fitness[index]):
          axis.annotate(str(step.id), (index, fitness[index]), textcoords="offset points",
                        xytext=(0, 6), ha="center", fontsize=7)
    axis.set_xlabel("mutations from the initial program")
    axis.set_ylabel("fitness")
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(f"lineage of program {self.program.id}, run {self.run.name}")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90)
    plt.close(figure)
    return buffer.getvalue()


def _fitness_text(value: float) -> str:
  return f"{value:.6g}" if math.isfinite(value) else "failed"


def _fitness(value: Any, location: str) -> float:
  """A logged fitness as the search ranks it (``dsl.ranked_fitness``: a failed run is -inf)."""
  try:
    return ranked_fitness(value)
  except ValueError:
    raise LineageError(
        f"{location}: event with a 'fitness' that is not a number ({value!r})") from None


def _integer(event: dict[str, Any], field: str, location: str, optional: bool = False):
  value = event.get(field)
  if value is None and optional:
    return None
  if not isinstance(value, int) or isinstance(value, bool):
    raise LineageError(f"{location}: event without an integer '{field}' (got {value!r})")
  return value


def _open(run: str | pathlib.Path) -> RunFolder:
  folder = RunFolder(run)
  if not folder.path.is_dir():
    raise LineageError(f"{folder.path}: no such folder (expected a run folder, runs/NAME)")
  if not folder.exists():
    raise LineageError(f"{folder.path}: not a run folder (no config.yaml)")
  if not folder.has_events():
    raise LineageError(f"{folder.path}: the run has no events yet (no events.jsonl)")
  return folder


def _parents(folder: RunFolder) -> tuple[array.array, int | None, int]:
  """Pass 1: ``parents[id]`` for every id in the log (``_ROOT`` for the warm start, ``_UNKNOWN``
  for ids with no event), the best program's id and the number of events."""
  parents = array.array("i")  # 4 bytes a program: 0.5 GB for a week's 120 million
  best: tuple[float, int] | None = None  # (fitness, -id), the greatest wins
  count = 0
  for location, event in folder.iter_events(locations=True):
    program_id = _integer(event, "id", location)
    parent = _integer(event, "parent", location, optional=True)
    if not 0 <= program_id <= count + _MAX_IDS_AHEAD:  # ids count the children generated
      raise LineageError(f"{location}: event with an impossible 'id' ({program_id}, after "
                         f"{count} events)")
    if parent is not None and parent > count + _MAX_IDS_AHEAD:
      raise LineageError(f"{location}: event with an impossible 'parent' ({parent}, after "
                         f"{count} events)")
    if program_id >= len(parents):
      parents.extend([_UNKNOWN] * (program_id + 1 - len(parents)))
    if parents[program_id] == _UNKNOWN:  # the first event of an id is the one that counts
      parents[program_id] = _ROOT if parent is None or parent < 0 else parent
    fitness = _fitness(event.get("fitness"), location)
    if math.isfinite(fitness) and (best is None or (fitness, -program_id) > best):
      best = (fitness, -program_id)
    count += 1
  return parents, None if best is None else -best[1], count


def _chain(folder: RunFolder, parents: array.array, target: int) -> list[int]:
  """The ids from the warm start to ``target``, through ``parents``."""
  chain = [target]
  seen = {target}
  while parents[chain[-1]] != _ROOT:
    parent = parents[chain[-1]]
    if parent >= len(parents) or parents[parent] == _UNKNOWN:
      raise LineageError(f"{folder.path}: program {chain[-1]}'s parent {parent} has no event in "
                         "the log (an incomplete log)")
    if parent in seen:
      raise LineageError(f"{folder.path}: program {parent} is its own ancestor (a corrupt log)")
    seen.add(parent)
    chain.append(parent)
  return chain[::-1]


def _steps(folder: RunFolder, chain: Sequence[int]) -> tuple[Step, ...]:
  """Pass 2: the events of ``chain``, read until the last of them is found."""
  wanted = set(chain)
  found: dict[int, Step] = {}
  for location, event in folder.iter_events(locations=True):
    program_id = event.get("id")
    if program_id not in wanted or program_id in found:
      continue
    text = event.get("program")
    if not isinstance(text, str):
      raise LineageError(f"{location}: event of program {program_id} without its 'program' text")
    island = event.get("island")
    found[program_id] = Step(
        id=program_id, parent=event.get("parent"), mutation=str(event.get("mutation") or "?"),
        island=island if isinstance(island, int) else None,
        fitness=_fitness(event.get("fitness"), location), status=str(event.get("status") or ""),
        program=text)
    if len(found) == len(wanted):
      break
  missing = [i for i in chain if i not in found]
  if missing:  # the log changed between the passes (it is only ever appended to)
    raise LineageError(f"{folder.path}: program {missing[0]} vanished from the event log")
  return tuple(found[i] for i in chain)


def lineage(run: str | pathlib.Path, program_id: int | None = None) -> Lineage:
  """The lineage of program ``program_id`` of the run in folder ``run`` (None: the best).

  Raises ``LineageError`` (a ValueError) for a folder that is not a run, an id with no event,
  or a run without a program of finite fitness (for the best); a corrupt log line is a
  ValueError naming its file and line (``RunFolder.iter_events``)."""
  folder = _open(run)
  parents, best, count = _parents(folder)
  if count == 0:
    raise LineageError(f"{folder.path}: the run has no events yet")
  if program_id is None:
    if best is None:
      raise LineageError(f"{folder.path}: no program with a finite fitness in the event log "
                         f"({count} events)")
    program_id = best
  elif not 0 <= program_id < len(parents) or parents[program_id] == _UNKNOWN:
    raise LineageError(f"--id {program_id}: no program {program_id} in the event log of "
                       f"{folder.path} ({count} events, ids 0 to {len(parents) - 1})")
  return Lineage(folder.path, _steps(folder, _chain(folder, parents, program_id)))


class _Parser(argparse.ArgumentParser):
  def error(self, message):  # argparse exits with 2 too; one line, no usage dump
    self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
  parser = _Parser(prog="python -m search.lineage",
                   description="The chain of mutations from the initial program to a program.")
  parser.add_argument("run", help="the run folder (runs/NAME)")
  which = parser.add_mutually_exclusive_group()
  which.add_argument("--best", action="store_true",
                     help="the best program of the run (the default)")
  which.add_argument("--id", type=int, metavar="N", help="program N of the event log")
  parser.add_argument("--png", metavar="FILE", help="draw the fitness along the chain (PNG)")
  parser.add_argument("--dot", metavar="FILE", help="write the chain as Graphviz DOT")
  return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
  stdout = sys.stdout if stdout is None else stdout
  stderr = sys.stderr if stderr is None else stderr
  args = _parser().parse_args(argv)
  for flag, path in (("--png", args.png), ("--dot", args.dot)):
    if path is not None and not pathlib.Path(path).resolve().parent.is_dir():
      print(f"{flag} {path}: directory {pathlib.Path(path).parent} does not exist", file=stderr)
      return EXIT_INVALID
  try:
    result = lineage(args.run, args.id)
  except ValueError as error:  # LineageError, or a corrupt log line (FILE:LINE: ...)
    print(str(error), file=stderr)
    return EXIT_INVALID
  except OSError as error:
    print(f"{error.filename or args.run}: cannot read: {error.strerror or error}", file=stderr)
    return EXIT_INVALID
  stdout.write(result.report())
  try:
    if args.png is not None:
      atomic_write(args.png, result.png())
      print(f"png: {args.png}", file=stdout)
    if args.dot is not None:
      atomic_write(args.dot, result.dot())
      print(f"dot: {args.dot}", file=stdout)
  except OSError as error:
    print(f"{error.filename}: cannot write: {error.strerror or error}", file=stderr)
    return EXIT_INVALID
  return EXIT_OK


if __name__ == "__main__":
  sys.exit(main())
