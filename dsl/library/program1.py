# Program 1 of Chen et al. (2023) as printed: Lion with beta1 = 0.9, beta2 = 0.99 and
# weight decay 0.1 written as constants, and no learning-rate constant (the caller's lr is
# the whole step size). The library's ``lion`` is the same program with ``lr = lr * 0.0001``.
def train(weight, gradient, momentum, lr):
  update = interp(gradient, momentum, 0.9)
  update = sign(update)
  momentum = interp(gradient, momentum, 0.99)
  weight_decay = weight * 0.1
  update = update + weight_decay
  update = update * lr
  return update, momentum
