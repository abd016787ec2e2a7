# AdamW as the paper writes it (Program 3 of Chen et al., 2023): the search's warm start.
# No bias correction; peak learning rate 1e-3 and decoupled weight decay 0.01 are constants.
def train(w, g, m, v, lr):
  g2 = square(g)
  m = interp(g, m, 0.9)
  v = interp(g2, v, 0.999)
  sqrt_v = sqrt(v)
  update = m / sqrt_v
  wd = w * 0.01
  update = update + wd
  lr = lr * 0.001
  update = update * lr
  return update, m, v
