# Plain stochastic gradient descent, peak learning rate 0.1.
def train(w, g, lr):
  lr = lr * 0.1
  update = g * lr
  return update
