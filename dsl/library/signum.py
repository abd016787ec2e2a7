# Signum (Bernstein et al., 2018): the sign of an exponential moving average of gradients.
def train(w, g, m, lr):
  m = interp(g, m, 0.9)
  update = sign(m)
  lr = lr * 0.0001
  update = update * lr
  return update, m
