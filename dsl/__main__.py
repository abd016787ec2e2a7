"""Command line of the program language.

  python -m dsl check FILE... [--graph OUT.dot]   validate programs, print what they are
  python -m dsl list                              the built-in programs
  python -m dsl functions                         the function table (Markdown)
  python -m dsl export FILE [--format optax|latex] [-o OUT]
                                                  the program as a standalone optax module
                                                  (imports jax and optax only) or as LaTeX

``check`` prints, for each file, the canonical text, the number of state variables and the
functions used, then what the analysis finds (semantic hash, redundant statements by source
line, effective state count, pruned program). Errors read ``FILE:LINE:COL: message`` on stderr;
every file is checked and the exit status is 2 if any failed (argparse's usage errors too).

``export`` writes to stdout, or with ``-o OUT`` to OUT atomically (never over FILE); the file's
leading comment goes into the module's docstring (``dsl.source_export``).
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Callable, Sequence, TextIO

import dsl
from dsl import functions as fns
from dsl import source_export
from dsl.files import atomic_write
from dsl.program import Program, ProgramError

EXIT_OK = 0
EXIT_INVALID = 2


def functions_used(program: Program) -> list[str]:
  """Canonical names of the functions ``program`` calls, in order of first use."""
  return list(dict.fromkeys(statement.function for statement in program.statements))


def _optional(analysis: Callable, *args):
  """``analysis(*args)``, or None while that analysis is not built yet (issue 3)."""
  try:
    return analysis(*args)
  except NotImplementedError:
    return None


def describe(program: Program) -> list[str]:
  """The report ``check`` prints for one valid program, line by line."""
  used = functions_used(program)
  out = [program.to_text().rstrip("\n"),
         f"states: {program.num_states}",
         f"functions: {', '.join(used) if used else 'none'}"]
  semantic_hash = _optional(dsl.semantic_hash, program)
  if semantic_hash is not None:
    out.append(f"hash: {semantic_hash}")
  redundant = _optional(dsl.redundant_statements, program)
  if redundant is not None:
    lines = [str(program.line_of(i)) for i in redundant]
    out.append(f"redundant lines: {', '.join(lines) if lines else 'none'}")
  effective = _optional(dsl.effective_states, program)
  if effective is not None:
    out.append(f"effective states: {effective}")
  pruned = _optional(dsl.prune, program)
  if pruned is not None:
    out.append("pruned:")
    out.append(pruned.to_text().rstrip("\n"))
  return out


def check_files(paths: Sequence[str], graph: str | None, stdout: TextIO, stderr: TextIO) -> int:
  if graph is not None and len(paths) != 1:
    print(f"dsl check: --graph writes one file: give exactly one FILE, got {len(paths)}",
          file=stderr)
    return EXIT_INVALID
  status = EXIT_OK
  for index, path in enumerate(paths):
    try:
      program = dsl.parse_file(path)
    except ProgramError as e:
      print(e if e.filename else f"{path}: {e}", file=stderr)
      status = EXIT_INVALID
      continue
    if index:
      print(file=stdout)
    print(f"== {path}", file=stdout)
    print("\n".join(describe(program)), file=stdout)
    if graph is not None:
      try:
        dsl.write_dot(program, graph)
      except NotImplementedError:
        print("dsl check: --graph is not available yet (issue 3); no graph written",
              file=stderr)
      except OSError as e:
        print(f"{graph}: cannot write the graph: {e.strerror}", file=stderr)
        status = EXIT_INVALID
      else:
        print(f"graph: {graph}", file=stdout)
  return status


def description(name: str) -> str:
  """The first comment line of a built-in program's file, without the ``#``."""
  for line in dsl.library.text(name).splitlines():
    if line.startswith("#"):
      return line.lstrip("#").strip()
  return ""


def list_programs(stdout: TextIO) -> int:
  rows = [(name, str(dsl.library.load(name).num_states), description(name))
          for name in dsl.library.names()]
  rows.insert(0, ("name", "states", "description"))
  width = [max(len(row[i]) for row in rows) for i in range(2)]
  for name, states, text in rows:
    print(f"{name:<{width[0]}}  {states:>{width[1]}}  {text}".rstrip(), file=stdout)
  return EXIT_OK


def _call(function: fns.Function) -> str:
  names = ["x", "y", "a"] if function.name == "interp" else ["x", "y", "z"][:function.arity]
  if function.symbol:
    return f"x {function.symbol} y"
  return f"{function.name}({', '.join(names[:function.arity])})"


def function_table() -> str:
  """The function table as Markdown (``docs/language.md`` holds a copy, checked by a test)."""
  lines = ["| call | aliases | kind | scalar-only arguments | commutative | meaning, guard |",
           "|---|---|---|---|---|---|"]
  for f in fns.FUNCTIONS:
    aliases = ", ".join(f"`{a}`" for a in f.aliases)
    scalar = ", ".join(str(i + 1) for i in sorted(f.scalar_args))
    doc = f.doc.replace("|", "\\|")
    lines.append(f"| `{_call(f)}` | {aliases} | {f.kind} | {scalar} | "
                 f"{'yes' if f.commutative else ''} | {doc} |")
  return "\n".join(lines) + "\n"


def leading_comment(text: str) -> str:
  """The comment lines before a program's ``def``, without their ``#``."""
  lines = []
  for line in text.splitlines():
    if not line.startswith("#"):
      break
    lines.append(line[1:].strip())
  return "\n".join(lines)


def export(path: str, form: str, out: str | None, stdout: TextIO, stderr: TextIO) -> int:
  """``python -m dsl export``: the program in ``path`` as a standalone optax module or LaTeX."""
  source = pathlib.Path(path)
  if out is not None:
    target = pathlib.Path(out)
    if source.exists() and target.exists() and target.resolve() == source.resolve():
      print(f"{out}: -o would overwrite the input program {path}", file=stderr)
      return EXIT_INVALID
    if not target.resolve().parent.is_dir():
      print(f"{out}: -o directory {target.parent} does not exist", file=stderr)
      return EXIT_INVALID
  try:
    text = source.read_text(encoding="utf-8")
  except OSError as e:
    print(f"{path}: cannot read: {e.strerror or e}", file=stderr)
    return EXIT_INVALID
  except UnicodeDecodeError as e:
    print(f"{path}: not UTF-8 text ({e.reason})", file=stderr)
    return EXIT_INVALID
  try:
    program = dsl.parse(text, filename=path)
  except ProgramError as e:
    print(e if e.filename else f"{path}: {e}", file=stderr)
    return EXIT_INVALID
  name = source.stem
  if form == "latex":
    result = source_export.latex(program, name)
  else:
    command = f"python -m dsl export {source.name} --format optax"
    result = source_export.optax_module(program, name, leading_comment(text), command)
  if out is None:
    stdout.write(result)
    return EXIT_OK
  try:
    atomic_write(out, result)
  except OSError as e:
    print(f"{out}: cannot write: {e.strerror or e}", file=stderr)
    return EXIT_INVALID
  print(f"wrote {out}", file=stdout)
  return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
  parser = argparse.ArgumentParser(prog="python -m dsl",
                                   description="The optimizer-program language of optsearch.")
  commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
  check = commands.add_parser("check", help="validate program files and describe them")
  check.add_argument("files", nargs="+", metavar="FILE")
  check.add_argument("--graph", metavar="OUT.dot",
                     help="write the program's dataflow graph (Graphviz dot); one FILE only")
  commands.add_parser("list", help="the built-in programs: name, states, description")
  commands.add_parser("functions", help="the function table, as Markdown")
  exporter = commands.add_parser("export", help="a program as a standalone optax module "
                                 "(imports jax and optax only) or as LaTeX equations")
  exporter.add_argument("file", metavar="FILE")
  exporter.add_argument("--format", choices=("optax", "latex"), default="optax",
                        help="optax: a Python module defining optimizer(learning_rate) -> "
                        "optax.GradientTransformation (default); latex: the rule in the style "
                        "of the paper's Algorithm 2")
  exporter.add_argument("-o", "--out", metavar="OUT", help="write here instead of stdout")
  return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO | None = None,
         stderr: TextIO | None = None) -> int:
  stdout = sys.stdout if stdout is None else stdout
  stderr = sys.stderr if stderr is None else stderr
  args = build_parser().parse_args(argv)
  if args.command == "check":
    return check_files(args.files, args.graph, stdout, stderr)
  if args.command == "list":
    return list_programs(stdout)
  if args.command == "export":
    return export(args.file, args.format, args.out, stdout, stderr)
  stdout.write(function_table())
  return EXIT_OK


if __name__ == "__main__":
  sys.exit(main())
