# SGD with heavy-ball momentum 0.9 (m = 0.9 m + g), peak learning rate 0.01.
def train(w, g, m, lr):
  m = m * 0.9
  m = m + g
  lr = lr * 0.01
  update = m * lr
  return update, m
