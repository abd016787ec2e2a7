def train(w, g, m, v, lr):
  g2 = square(g)
  m = interp(g, m, 0.7870120738596017)
  v = interp(g2, v, 0.7645898568868031)
  sqrt_v = sqrt(v)
  update = m / sqrt_v
  m = log1p(m)
  lr = lr * 0.005970295147695783
  update = update * lr
  return update, m, v
