"""Command line of the simplifier.

  python -m simplify PROGRAM.py [--task NAME] [--tolerance T] [--seeds N] [--out FILE]
                                [--exact-only] [--no-calibration] [--ablate-weight-decay]

Prints the simplified program's step-by-step report (the program last). Ablation runs on
``--task`` (default: the default search proxy, ``proxy_tasks.DEFAULT_PROXY``); ``--exact-only``
skips it (no training at all). ``--out FILE`` writes the program to FILE and the report to
``FILE`` with ``.report.txt`` appended, each atomically (a temporary file renamed over), and
never over the input. Bad input: one line ``FILE:LINE:COL: message`` on stderr, exit status 2.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from typing import Sequence, TextIO

import dsl
from dsl.files import atomic_write
from dsl.program import ProgramError
from simplify import simplifier

EXIT_OK = 0
EXIT_INVALID = 2


class _Parser(argparse.ArgumentParser):
  def error(self, message):  # argparse exits with 2 too; one line, no usage dump
    self.exit(EXIT_INVALID, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
  parser = _Parser(prog="python -m simplify",
                   description="Simplify an optimizer program: prune, rewrite, ablate.")
  parser.add_argument("program", help="program file (def train(...): ...)")
  parser.add_argument("--task", default=None,
                      help="proxy task for ablation (default: the default search proxy)")
  parser.add_argument("--tolerance", type=float, default=simplifier.DEFAULT_TOLERANCE,
                      help="fitness an ablation may cost, in all (default %(default)s)")
  parser.add_argument("--seeds", type=int, default=simplifier.DEFAULT_SEEDS,
                      help="seeds per fitness (default %(default)s)")
  parser.add_argument("--out", default=None, help="write the program here (and the report "
                      "to OUT.report.txt)")
  parser.add_argument("--exact-only", action="store_true",
                      help="only the exact stages: no task, no training")
  parser.add_argument("--no-calibration", action="store_true",
                      help="score at the program's own step size")
  parser.add_argument("--ablate-weight-decay", action="store_true",
                      help="also try removing the weight decay (a short proxy cannot "
                      "measure it; kept by default)")
  return parser


def main(argv: Sequence[str] | None = None, stdout: TextIO = sys.stdout,
         stderr: TextIO = sys.stderr) -> int:
  args = _parser().parse_args(argv)
  source = pathlib.Path(args.program)
  if not args.tolerance >= 0:
    print(f"--tolerance: must be >= 0, got {args.tolerance}", file=stderr)
    return EXIT_INVALID
  if args.seeds < 1:
    print(f"--seeds: must be >= 1, got {args.seeds}", file=stderr)
    return EXIT_INVALID
  out = pathlib.Path(args.out) if args.out else None
  if out is not None:
    report_path = out.with_name(out.name + ".report.txt")
    if source.exists() and any(p.exists() and p.resolve() == source.resolve()
                               for p in (out, report_path)):
      print(f"{out}: --out would overwrite the input program {source}", file=stderr)
      return EXIT_INVALID
    if not out.parent.is_dir():
      print(f"{out}: --out directory {out.parent} does not exist", file=stderr)
      return EXIT_INVALID
  try:
    program = dsl.parse_file(source)
  except ProgramError as error:
    print(str(error), file=stderr)
    return EXIT_INVALID
  except OSError as error:
    print(f"{source}: cannot read: {error.strerror}", file=stderr)
    return EXIT_INVALID
  scorer = None
  if not args.exact_only:
    import proxy_tasks  # pylint: disable=import-outside-toplevel  (JAX only when needed)
    from simplify.scoring import Scorer  # pylint: disable=import-outside-toplevel
    task = args.task or proxy_tasks.DEFAULT_PROXY
    try:  # a registered name or a user's package.module:factory
      proxy_tasks.check(task)
    except proxy_tasks.TaskError as error:
      print(f"--task: {error}", file=stderr)
      return EXIT_INVALID
    scorer = Scorer(task, seeds=args.seeds)
  result = simplifier.simplify(program, scorer, tolerance=args.tolerance,
                               calibrate=not args.no_calibration,
                               keep_weight_decay=not args.ablate_weight_decay)
  report = result.report()
  stdout.write(report)
  if out is not None:
    atomic_write(out, result.program.to_text())
    atomic_write(report_path, report)
  return EXIT_OK


if __name__ == "__main__":
  sys.exit(main())
