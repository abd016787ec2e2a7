def train(w, g, m, v, lr):
  g2 = square(g)
  m = interp(g, m, 0.9)
  v = interp(g2, v, 0.9535995466485415)
  sqrt_v = sqrt(v)
  update = m / sqrt_v
  update = update * 0.04230316890447481
  return update, m, v
