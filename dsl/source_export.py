"""Exports a program as source: a standalone optax module, or LaTeX in the paper's style.

``optax_module(program)`` is the text of a Python module that imports only ``jax``,
``jax.numpy`` and ``optax`` and defines

* ``train(w, g, *states, lr) -> (update, *states)``: the program, statement by statement, each
  call lifted to pytrees as ``dsl.compile`` lifts it (elementwise functions leaf by leaf with
  scalars broadcast, reductions over the leaves, the update and the states broadcast to the
  parameters' shapes and dtypes);
* ``State``, a NamedTuple ``(count, <one field per state variable>)``;
* ``optimizer(learning_rate=1.0) -> optax.GradientTransformation``, with the program's text in
  its docstring: what ``dsl.to_optax(program, learning_rate)`` returns (``-update``, since optax
  adds updates; ``lr`` the schedule's value at ``count``), as a module anyone can copy.

The functions it calls are written from their one row in ``dsl.functions.FUNCTIONS``: the row's
``source`` (the same text the compiler's implementation is made from) and the guard helpers it
names, copied from that module. So the standalone module computes exactly what ``dsl.to_optax``
computes, constants included (Python floats, weakly typed, as the compiler passes them).

``latex(program)`` is the update rule as an ``algorithmic`` block in the style of Algorithm 2 of
Chen et al. (2023): ``interp`` with a constant weight is a beta-interpolation with a named
``\\beta_k`` given up front, state variables read before they are assigned are ``m_{t-1}``,
after it ``m_t``, the weights ``\\theta``, the gradient ``g_t``, the schedule ``\\eta_t``.
"""

from __future__ import annotations

import ast
import inspect
import keyword
import math
import re
from typing import Iterable

from dsl import functions as fns
from dsl.optax_export import reads_weights
from dsl.program import Program, Type, infer_types, param_types

# Names the generated module defines or imports; a program variable spelled like one of these
# (or starting with "_", the generated module's own prefix) is renamed in the code.
_TAKEN = frozenset({"jax", "jnp", "optax", "Any", "NamedTuple", "EPS", "TINY", "math", "train",
                    "optimizer", "State"})


def _identifier(function: fns.Function) -> str:
  """The Python name of a row's function in generated code: ``_interp``, ``_divide`` (the first
  alias names an operator)."""
  name = function.aliases[0] if function.symbol else function.name
  return f"_{name}"


def _literal(value: float) -> str:
  """A Python float literal for a program constant (a Python float, as the compiler passes it)."""
  if math.isnan(value):
    return 'float("nan")'
  if math.isinf(value):
    return 'float("inf")' if value > 0 else '-float("inf")'
  return repr(float(value))


def _python_names(program: Program) -> dict[str, str]:
  """Program variable -> the name the generated code gives it (itself unless taken)."""
  names = list(dict.fromkeys([*program.params, *(s.target for s in program.statements)]))
  given: dict[str, str] = {}
  used = set(_TAKEN)
  for name in names:
    candidate = name
    if candidate in _TAKEN or keyword.iskeyword(candidate) or candidate.startswith("_"):
      candidate = "v" + candidate
    while candidate in used or candidate in names and candidate != name:
      candidate += "_"
    given[name] = candidate
    used.add(candidate)
  return given


def _helpers(sources: Iterable[str]) -> list[str]:
  """The module-level helpers of ``dsl.functions`` the ``sources`` call, with the helpers they
  call, dependencies first, as their source text."""
  namespace = vars(fns)
  ordered: list[str] = []

  def visit(text: str) -> None:
    for node in ast.walk(ast.parse(text)):
      name = node.id if isinstance(node, ast.Name) else None
      value = namespace.get(name) if name else None
      if (name and name.startswith("_") and inspect.isfunction(value)
          and value.__module__ == fns.__name__ and name not in ordered):
        visit(inspect.getsource(value))
        if name not in ordered:
          ordered.append(name)

  for source in sources:
    visit(source)
  return [inspect.getsource(namespace[name]).rstrip("\n") for name in ordered]


def function_source(function: fns.Function) -> str:
  """The leaf-level definition of a row in generated code: a ``def`` for a lambda source, an
  assignment otherwise (``_sign = jnp.sign``)."""
  name = _identifier(function)
  if function.source == name:  # a helper of the table under the row's own name
    return ""
  tree = ast.parse(function.source, mode="eval").body
  if isinstance(tree, ast.Lambda):
    params = ", ".join(a.arg for a in tree.args.args)
    body = ast.get_source_segment(function.source, tree.body)
    return f"def {name}({params}):\n  return {body}"
  return f"{name} = {function.source}"


def _statement_lines(program: Program, names: dict[str, str]) -> list[str]:
  """The body of ``train``: one assignment per statement, lifted by the function's kind."""
  types = param_types(program)
  lines = []
  for statement, out_type in zip(program.statements, infer_types(program)):
    function = fns.BY_NAME[statement.function]
    call = _identifier(function)
    arg_types = [types[a] if isinstance(a, str) else Type.SCALAR for a in statement.args]
    text = [names[a] if isinstance(a, str) else _literal(a) for a in statement.args]
    target = names[statement.target]
    lines.append(f"# {statement.to_text()}")
    comment = ""
    width = max(arg_types, default=Type.SCALAR)
    if function.kind == fns.CONSTANT:
      lines.append(f"{target} = jnp.asarray({_literal(function.impl())}, jnp.float32){comment}")
    elif function.kind in (fns.ELEMENTWISE, fns.PER_ARRAY):
      if width == Type.SCALAR:
        lines.append(f"{target} = {call}({', '.join(text)}){comment}")
      else:  # leaf by leaf over the trees, scalars passed to every leaf
        mapped = [i for i, t in enumerate(arg_types) if t != Type.SCALAR]
        params = [f"_x{i}" for i in mapped]
        inner = [f"_x{i}" if i in mapped else text[i] for i in range(len(text))]
        trees = ", ".join(text[i] for i in mapped)
        if inner == params:  # every argument a tree, in order
          lines.append(f"{target} = jax.tree.map({call}, {trees}){comment}")
        else:
          lines.append(f"{target} = jax.tree.map(lambda {', '.join(params)}: "
                       f"{call}({', '.join(inner)}), {trees}){comment}")
    else:  # global and global_scale: over the leaves of the arguments' broadcast
      if width == Type.SCALAR:
        lists = [f"[{t}]" for t in text]
      else:
        lists = [f"[{t}] * _treedef.num_leaves" if arg_type == Type.SCALAR
                 else f"_treedef.flatten_up_to({t})" for t, arg_type in zip(text, arg_types)]
      value = f"{call}({', '.join(lists)})"
      if function.kind == fns.GLOBAL:
        lines.append(f"{target} = {value}{comment}")
      else:
        lines.append(f"_factor = {value}")
        if arg_types[0] == Type.SCALAR:
          lines.append(f"{target} = {text[0]} * _factor{comment}")
        else:
          lines.append(f"{target} = jax.tree.map(lambda _x0: _x0 * _factor, {text[0]})"
                       f"{comment}")
    types[statement.target] = out_type
  return lines


def _docstring(text: str, indent: str) -> str:
  """``text`` as the body of a triple-quoted docstring (backslashes and quotes escaped)."""
  text = text.replace("\\", "\\\\").replace('"""', '\\"\\"\\"')
  return "\n".join(f"{indent}{line}".rstrip() for line in text.splitlines())


def optax_module(program: Program, name: str = "optimizer", comment: str = "",
                 command: str = "") -> str:
  """The text of a standalone module defining ``program`` as an optax optimizer (see the
  module docstring). ``name`` and ``comment`` (the program file's leading comment) go into its
  docstring, with ``command`` (what generated it)."""
  types = param_types(program)
  infer_types(program)  # raises ProgramError for an invalid program
  names = _python_names(program)
  functions = [fns.BY_NAME[f] for f in dict.fromkeys(s.function for s in program.statements)]
  lifted = [f for f in functions if f.kind != fns.CONSTANT]
  helpers = _helpers(f.source for f in lifted)
  out_types = dict(types)
  for statement, out_type in zip(program.statements, infer_types(program)):
    out_types[statement.target] = out_type
  weights = names[program.weights]
  params = [names[p] for p in program.params]
  state_fields = [names[s] if names[s] != "count" else "count_" for s in program.states]
  returns = [f"_broadcast_scalar({names[r]}, {weights})" if out_types[r] == Type.SCALAR
             else f"_broadcast({names[r]}, {weights})" for r in program.returns]
  rule = program.to_text().rstrip("\n")

  head = [f"{name}: an optimizer written in optsearch's program language, as a standalone "
          "optax optimizer."]
  if comment:
    head += ["", *comment.splitlines()]
  head += ["", "The update rule (the program; the caller applies w <- w - update, so the optax",
           "transformation returns -update: optax adds updates)::", "",
           *[f"    {line}" for line in rule.splitlines()], "",
           "Usage::", "",
           "    opt = optimizer(optax.warmup_cosine_decay_schedule(0.0, 1.0, 1_000, 100_000))",
           "    state = opt.init(params)",
           "    updates, state = opt.update(grads, state, params)",
           "    params = optax.apply_updates(params, updates)", "",
           "The peak learning rate and the weight decay are constants of the program, so a "
           "schedule",
           "should peak at 1. Imports jax and optax only; computes what dsl.to_optax computes."]
  if command:
    head += ["", f"Generated by ``{command}``."]
  out = ['"""' + _docstring("\n".join(head), "").lstrip(), '"""', "",
         "from typing import Any, NamedTuple", "", "import jax", "import jax.numpy as jnp",
         "import optax", "", f"EPS = {fns.EPS!r}", f"TINY = {fns.TINY!r}",
         "# optax.safe_increment is the newer name; optax before 0.2.5 has the int32 one only.",
         '_increment = getattr(optax, "safe_increment", None) or optax.safe_int32_increment', ""]
  if helpers or lifted:
    out += ["", "# The functions of the language this program calls, on one array (or on lists "
            "of leaves,", "# for reductions), with their guards: from dsl/functions.py.", ""]
    definitions = [*helpers, *filter(None, (function_source(f) for f in lifted))]
    defs = [d for d in definitions if d.startswith("def ")]
    aliases = [d for d in definitions if not d.startswith("def ")]
    out.append("\n\n\n".join(defs + (["\n".join(aliases)] if aliases else [])))
    out.append("")
  needs_scalar = any(out_types[r] == Type.SCALAR for r in program.returns)
  needs_tree = any(out_types[r] != Type.SCALAR for r in program.returns)
  out.append("")
  if needs_tree:
    out += ["def _broadcast(value, w):",
            '  """A tree (or per-array values) shaped and typed like ``w``."""',
            "  return jax.tree.map(lambda x, ref: jnp.broadcast_to(x, ref.shape)"
            ".astype(ref.dtype), value, w)", "", ""]
  if needs_scalar:
    out += ["def _broadcast_scalar(value, w):",
            '  """A scalar as a tree shaped and typed like ``w``."""',
            "  return jax.tree.map(lambda ref: jnp.broadcast_to(value, ref.shape)"
            ".astype(ref.dtype), w)", "", ""]
  reduces = any(f.kind in (fns.GLOBAL, fns.GLOBAL_SCALE) for f in functions)
  body = [*([f"_treedef = jax.tree.structure({weights})"] if reduces else []),
          f"{names[program.lr]} = jnp.asarray({names[program.lr]}, jnp.float32)",
          *_statement_lines(program, names),
          f"return ({', '.join(returns)}{',' if len(returns) == 1 else ''})"]
  out += [f"def train({', '.join(params)}):",
          '  """One step of the program: ``(update, *new states)``, each shaped like the weights '
          f"``{weights}``;", f"  the caller applies ``{weights} - update``.\"\"\"",
          *[f"  {line}" for line in body], "", ""]
  out += ["class State(NamedTuple):",
          '  """The optimizer state: updates applied so far, then the program\'s state variables '
          "(each", '  shaped and typed like the parameters, zero at ``init``)."""',
          "  count: jax.Array", *[f"  {field}: Any" for field in state_fields], "", ""]
  if reads_weights(program):
    missing = ["    if params is None:",
               f"      raise ValueError(\"this program reads its weights '{program.weights}': call \"",
               "                       \"update(grads, state, params) with the current \"",
               "                       \"parameters\")"]
  else:
    missing = ["    if params is None:",
               "      params = updates  # only their shapes and dtypes are used"]
  zeros = "".join(", jax.tree.map(jnp.zeros_like, params)" for _ in state_fields)
  out += ["def optimizer(learning_rate=1.0) -> optax.GradientTransformation:",
          f'  """{name} as an optax gradient transformation, with the update rule', "",
          _docstring(rule, "      "), "",
          "  Args:",
          "    learning_rate: the value of ``lr`` in the rule: a float, or an optax schedule",
          "      ``count -> value`` (peaking at 1: the peak rate is a constant of the rule).",
          "",
          "  Returns:",
          "    An ``optax.GradientTransformation`` whose ``update(grads, state, params)`` "
          "returns",
          "    ``-update`` and the next ``State``.",
          '  """',
          "  schedule = learning_rate if callable(learning_rate) else None", "",
          "  def init_fn(params):",
          f"    return State(jnp.zeros([], jnp.int32){zeros})", "",
          "  def update_fn(updates, state, params=None):",
          *missing,
          "    lr = schedule(state.count) if schedule is not None else learning_rate",
          "    result = train(params, updates, *state[1:], lr)",
          "    return (jax.tree.map(jnp.negative, result[0]),",
          "            State(_increment(state.count), *result[1:]))", "",
          "  return optax.GradientTransformation(init_fn, update_fn)"]
  return "\n".join(out) + "\n"


# ---- LaTeX ------------------------------------------------------------------------------------

def _latex_name(name: str) -> str:
  """A variable in math mode: one letter as is, ``v_2`` as ``v_{2}``, longer as ``\\mathit``."""
  if len(name) == 1:
    return name
  head, _, tail = name.partition("_")
  if len(head) == 1 and tail and "_" not in tail:
    return f"{head}_{{{tail}}}" if tail.isalnum() else f"\\mathit{{{_escape(name)}}}"
  return f"\\mathit{{{_escape(name)}}}"


def _escape(text: str) -> str:
  return re.sub(r"([_#%&$])", r"\\\1", text)


def _number(value: float) -> str:
  if math.isnan(value):
    return r"\mathrm{NaN}"
  if math.isinf(value):
    return r"\infty" if value > 0 else r"-\infty"
  text = f"{value:.6g}"
  if "e" in text:
    mantissa, exponent = text.split("e")
    text = f"{mantissa} \\times 10^{{{int(exponent)}}}"
  return f"({text})" if value < 0 else text


def latex(program: Program, name: str = "optimizer") -> str:
  """The update rule of ``program`` as a LaTeX ``algorithm`` block (packages ``amsmath``,
  ``algorithm``, ``algpseudocode``), one ``\\State`` per statement; see the module docstring."""
  infer_types(program)  # raises ProgramError for an invalid program
  states = set(program.states)
  symbols = {program.weights: (r"\theta_{t-1}", r"\theta"), program.gradient: ("g_t", "g"),
             program.lr: (r"\eta_t", r"\eta")}
  for state in program.states:
    base = _latex_name(state)
    symbols[state] = (f"{base}_{{t-1}}" if "_" not in base else f"{base}^{{(t-1)}}",
                      f"{base}_t" if "_" not in base else f"{base}^{{(t)}}")
  assigned: set[str] = set()
  betas: dict[float, str] = {}

  def show(arg) -> str:
    if not isinstance(arg, str):
      return _number(arg)
    if arg in symbols:
      before, after = symbols[arg]
      return after if arg in assigned else before
    return _latex_name(arg)

  lines = []
  for statement in program.statements:
    function = fns.BY_NAME[statement.function]
    args = [show(a) for a in statement.args]
    if function.name == "interp" and not isinstance(statement.args[2], str):
      weight = statement.args[2]
      beta = betas.setdefault(weight, f"\\beta_{{{len(betas) + 1}}}")
      args[2] = beta
    template = function.latex or (
        f"\\operatorname{{{_escape(function.name)}}}("
        + ", ".join(f"{{{i}}}" for i in range(function.arity)) + ")")
    expression = template.format(*args)
    assigned.add(statement.target)
    lines.append(f"  \\State ${show(statement.target)} \\gets {expression}$"
                 f"  % {statement.to_text()}")
  update = program.returns[0]
  for state, outgoing in zip(program.states, program.returns[1:]):
    if outgoing != state:
      value = show(outgoing)
      assigned.add(state)
      lines.append(f"  \\State ${show(state)} \\gets {value}$")
  lines.append(f"  \\State $\\theta_t \\gets \\theta_{{t-1}} - {show(update)}$"
               "  % the update is subtracted")
  given = [f"${beta} = {_number(weight)}$" for weight, beta in betas.items()]
  given.append(r"$\eta_t$ (learning-rate schedule)")
  initial = [f"${symbols[s][0].replace('t-1', '0')} \\gets 0$" for s in program.states]
  state_note = ", ".join(f"${symbols[s][0]}$" for s in program.states)
  out = [f"% {name}: exported by optsearch (python -m dsl export --format latex)",
         r"% needs \usepackage{amsmath,algorithm,algpseudocode}",
         "% functions as in optsearch's language: sqrt and log act on |x|, a denominator's |y| "
         "is floored at 1e-8",
         r"\begin{algorithm}",
         f"\\caption{{{_escape(name)}}}",
         r"\begin{algorithmic}",
         f"  \\State \\textbf{{given}} {', '.join(given)}",
         f"  \\State \\textbf{{initialize}} $\\theta_0$"
         f"{''.join(', ' + i for i in initial)}, $t \\gets 0$",
         r"  \While{$\theta_t$ not converged}",
         r"  \State $t \gets t + 1$",
         r"  \State $g_t \gets \nabla_\theta f(\theta_{t-1})$",
         *lines,
         r"  \EndWhile",
         r"  \State \Return $\theta_t$",
         r"\end{algorithmic}",
         r"\end{algorithm}"]
  if state_note:
    out.insert(3, f"% state variables: {state_note} (zero at t = 0)")
  return "\n".join(out) + "\n"
