def train(w, g, m, v, lr):
  lr = tanh(lr)
  g2 = square(g)
  m = interp(g, m, 0.7870120738596017)
  v = interp(g2, v, 0.9226593218229334)
  sqrt_v = sqrt(v)
  update = m / sqrt_v
  m = log1p(m)
  product_lr = lr * 0.010615184772603103
  update = update * product_lr
  return update, m, v
