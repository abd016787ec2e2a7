"""Export a program as an ``optax.GradientTransformation`` (being built, issue 2)."""


def to_optax(program, learning_rate=1.0):
  raise NotImplementedError("dsl.to_optax is being built (issue 2)")
