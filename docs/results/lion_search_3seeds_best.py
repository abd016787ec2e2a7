# Rank 1 of run 'lion_search_3seeds': program 173531, fitness 1.03966, key 537bbb64da9e7679.
def train(w, g, m, v, lr):
  g2 = square(g)
  m = interp(g, m, 0.7870120738596017)
  v = interp(g2, v, 0.6406200458045891)
  sqrt_v = sqrt(v)
  update = m / sqrt_v
  lr = lr * 0.05970295147695783
  update = update * lr
  m = log1p(m)
  return update, m, v
