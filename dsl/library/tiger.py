# Tiger: Lion with beta1 = beta2 (one interpolation both steers the update and is kept).
def train(w, g, m, lr):
  m = interp(g, m, 0.965)
  update = sign(m)
  wd = w * 0.1
  update = update + wd
  lr = lr * 0.0001
  update = update * lr
  return update, m
