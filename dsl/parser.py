"""Parses program text (a strict subset of Python) with ``ast`` and a whitelist.

Program text is data: nothing is ever evaluated or executed. Every construct outside the
subset is an error that says where it is (``FILE:LINE:COL: message``).
"""

from __future__ import annotations

import ast
import builtins

from dsl import functions as fns
from dsl.program import (Program, ProgramError, Statement, check, check_params, param_types,
                         statement_type)

_PYTHON_BUILTINS = frozenset(dir(builtins))
_OPERATORS = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_NODE_NAMES = {
    ast.For: "loops", ast.While: "loops", ast.AsyncFor: "loops",
    ast.Import: "imports", ast.ImportFrom: "imports",
    ast.Attribute: "attributes", ast.Subscript: "subscripts", ast.Lambda: "lambdas",
    ast.If: "conditionals", ast.IfExp: "conditionals", ast.With: "'with' blocks",
    ast.ListComp: "comprehensions", ast.GeneratorExp: "comprehensions",
    ast.DictComp: "comprehensions", ast.SetComp: "comprehensions",
    ast.AugAssign: "augmented assignments (write 'x = x + y')",
    ast.AnnAssign: "annotated assignments", ast.Try: "try blocks",
    ast.ClassDef: "classes", ast.FunctionDef: "nested functions",
    ast.Global: "global statements", ast.Nonlocal: "nonlocal statements",
    ast.Delete: "del statements", ast.Raise: "raise statements", ast.Assert: "asserts",
    ast.Pass: "pass statements", ast.List: "lists", ast.Dict: "dicts", ast.Set: "sets",
    ast.Compare: "comparisons", ast.BoolOp: "boolean operators",
}


def _error(message: str, node: ast.AST | None, filename: str | None) -> ProgramError:
  line = getattr(node, "lineno", None)
  col = getattr(node, "col_offset", None)
  return ProgramError(message, line, None if col is None else col + 1, filename)


def _unsupported(node: ast.AST, filename: str | None) -> ProgramError:
  if isinstance(node, ast.Constant) and isinstance(node.value, (str, bytes)):
    what = "strings"
  elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
    what = "booleans"
  else:
    what = _NODE_NAMES.get(type(node), f"'{type(node).__name__}' nodes")
  return _error(f"{what} are not part of the program language", node, filename)


def parse(text: str, filename: str | None = None) -> Program:
  """Parses and type-checks one ``def train(w, g, <states...>, lr): ... return ...``."""
  try:
    module = ast.parse(text, filename=filename or "<program>")
  except SyntaxError as e:
    raise ProgramError(f"syntax error: {e.msg}", e.lineno, e.offset, filename) from None
  body = [node for node in module.body]
  if not body:
    raise ProgramError("no 'def train(...)' found", 1, 1, filename)
  function = body[0]
  if not isinstance(function, ast.FunctionDef):
    raise _unsupported(function, filename) if type(function) in _NODE_NAMES else _error(
        "expected 'def train(w, g, <states...>, lr):'", function, filename)
  if len(body) > 1:
    raise _error("only one function definition is allowed per program", body[1], filename)
  if function.name != "train":
    raise _error(f"the program must be named 'train', not '{function.name}'", function,
                 filename)
  params = _parse_params(function, filename)
  try:
    check_params(tuple(params))
  except ProgramError as e:
    raise _error(e.message, function, filename) from None
  if not function.body or not isinstance(function.body[-1], ast.Return):
    last = function.body[-1] if function.body else function
    raise _error("missing return: the last statement must be "
                 "'return update, <states...>'", last, filename)

  statements, lines = [], []
  for node in function.body[:-1]:
    statements.append(_parse_statement(node, filename))
    lines.append(node.lineno)
  returns = _parse_return(function.body[-1], filename)
  program = Program(tuple(params), tuple(statements), returns, lines=tuple(lines) + (
      function.body[-1].lineno,))
  try:
    check(program)
  except ProgramError as e:
    node = function.body[len(statements) if e.statement is None else e.statement]
    node = _culprit(program, e.statement, node)
    raise ProgramError(e.message, node.lineno, node.col_offset + 1, filename,
                       e.statement) from None
  return program


def _culprit(program: Program, index: int | None, node: ast.stmt) -> ast.AST:
  """The argument (or returned name) of ``node`` that made the type check fail, so that the
  error's column points at it; ``node`` itself when no single argument is to blame."""
  env = param_types(program)
  if index is None:  # the return: the first name that is not defined
    env.update((s.target, None) for s in program.statements)
    value = getattr(node, "value", None)
    items = value.elts if isinstance(value, ast.Tuple) else [value]
    names = [i for i, name in enumerate(program.returns) if name not in env]
    return items[names[0]] if names and len(items) == len(program.returns) else node
  for statement in program.statements[:index]:  # all valid: the first error is at ``index``
    env[statement.target] = statement_type(statement, env)
  statement = program.statements[index]
  value = node.value
  items = [value.left, value.right] if isinstance(value, ast.BinOp) else value.args
  for position in range(len(statement.args)):
    alone = tuple(a if i == position else 0.0 for i, a in enumerate(statement.args))
    try:
      statement_type(Statement(statement.target, statement.function, alone), env)
    except ProgramError:
      return items[position]
  return node


def _parse_params(function: ast.FunctionDef, filename: str | None) -> list[str]:
  args = function.args
  if (args.vararg or args.kwarg or args.kwonlyargs or args.posonlyargs or args.defaults
      or args.kw_defaults):
    raise _error("parameters must be plain names: train(w, g, <states...>, lr)", function,
                 filename)
  if function.decorator_list:
    raise _error("decorators are not part of the program language",
                 function.decorator_list[0], filename)
  for arg in args.args:
    if arg.annotation is not None:
      raise _error("annotations are not part of the program language", arg, filename)
  return [arg.arg for arg in args.args]


def _parse_statement(node: ast.stmt, filename: str | None) -> Statement:
  if isinstance(node, ast.Return):
    raise _error("return must be the last statement", node, filename)
  if isinstance(node, ast.Expr):
    if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
      raise _error("strings are not part of the program language", node, filename)
    raise _error("expression statements do nothing: assign the result to a variable", node,
                 filename)
  if not isinstance(node, ast.Assign):
    raise _unsupported(node, filename)
  if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
    target = node.targets[-1]
    if len(node.targets) != 1:
      raise _error("chained assignment is not part of the program language", node, filename)
    raise _error("assign to a single variable name", target, filename)
  target = node.targets[0].id
  value = node.value
  if isinstance(value, ast.BinOp):
    symbol = _OPERATORS.get(type(value.op))
    if symbol is None:
      raise _error(f"operator '{ast.unparse(value)}' is not part of the program language: use "
                   "+ - * / or a function", value, filename)
    args = (_parse_arg(value.left, filename), _parse_arg(value.right, filename))
    return Statement(target, fns.BY_SYMBOL[symbol].name, args)
  if isinstance(value, ast.Call):
    if not isinstance(value.func, ast.Name):
      raise _unsupported(value.func, filename)
    name = value.func.id
    if value.keywords:
      raise _error("keyword arguments are not part of the program language",
                   value.keywords[0], filename)
    function = fns.lookup(name)
    if function is None:
      if name in _PYTHON_BUILTINS:
        raise _error(f"Python builtin '{name}' is not a function of the program language",
                     value.func, filename)
      raise _error(f"unknown function '{name}'", value.func, filename)
    args = tuple(_parse_arg(a, filename) for a in value.args)
    if len(args) != function.arity:
      raise _error(f"'{name}' takes {function.arity} argument"
                   f"{'' if function.arity == 1 else 's'}, got {len(args)}", value, filename)
    return Statement(target, function.name, args)
  if isinstance(value, ast.Constant) and isinstance(value.value, (str, bytes, bool)):
    raise _unsupported(value, filename)
  if isinstance(value, (ast.Name, ast.Constant, ast.UnaryOp)):
    raise _error("a statement must call a function or apply + - * /: "
                 f"'{ast.unparse(value)}' alone is not allowed", value, filename)
  raise _unsupported(value, filename)


def _parse_arg(node: ast.expr, filename: str | None):
  if isinstance(node, ast.Name):
    return node.id
  number = _parse_number(node)
  if number is not None:
    return number
  if isinstance(node, (ast.Call, ast.BinOp)):
    raise _error("nested expressions are not part of the program language: assign "
                 f"'{ast.unparse(node)}' to a variable first", node, filename)
  raise _unsupported(node, filename)


def _parse_number(node: ast.expr) -> float | None:
  sign = 1.0
  if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
    sign = -1.0 if isinstance(node.op, ast.USub) else 1.0
    node = node.operand
  if (isinstance(node, ast.Constant) and isinstance(node.value, (int, float))
      and not isinstance(node.value, bool)):
    return sign * float(node.value)
  return None


def _parse_return(node: ast.Return, filename: str | None) -> tuple[str, ...]:
  value = node.value
  if value is None:
    raise _error("return must give the update, then the states", node, filename)
  items = value.elts if isinstance(value, ast.Tuple) else [value]
  names = []
  for item in items:
    if not isinstance(item, ast.Name):
      raise _error("return must list variable names: 'return update, <states...>'", item,
                   filename)
    names.append(item.id)
  return tuple(names)


def parse_file(path) -> Program:
  """Reads and parses a program file; errors name the file."""
  path = str(path)
  try:
    with open(path, encoding="utf-8") as f:
      text = f.read()
  except OSError as e:
    raise ProgramError(f"cannot read program file: {e.strerror}", filename=path) from None
  except UnicodeDecodeError:
    raise ProgramError("not a UTF-8 text file", filename=path) from None
  return parse(text, filename=path)
