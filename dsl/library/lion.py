# Lion (Program 1 of Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"),
# beta1 = 0.9, beta2 = 0.99, decoupled weight decay 0.1, peak learning rate 1e-4.
def train(weight, gradient, momentum, lr):
  update = interp(gradient, momentum, 0.9)
  update = sign(update)
  momentum = interp(gradient, momentum, 0.99)
  weight_decay = weight * 0.1
  update = update + weight_decay
  lr = lr * 0.0001
  update = update * lr
  return update, momentum
