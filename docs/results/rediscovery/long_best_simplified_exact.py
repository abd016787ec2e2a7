def train(w, g, v, lr):
  lr = arcsin(lr)
  w = expm1(v)
  minimum_v = minimum(-0.6546312595223643, v)
  v = clip(minimum_v, lr)
  difference_lr_w = lr - w
  expm1_difference_lr_w = expm1(difference_lr_w)
  expm1_expm1_difference_lr_w = expm1(expm1_difference_lr_w)
  sinh_expm1_expm1_difference_lr_w = sinh(expm1_expm1_difference_lr_w)
  expm1_sinh_expm1_expm1_difference_lr_w = expm1(sinh_expm1_expm1_difference_lr_w)
  g = minimum(0.997960456971252, g)
  expm1_expm1_sinh_expm1_expm1_difference_lr_w = expm1(expm1_sinh_expm1_expm1_difference_lr_w)
  dot_expm1_expm1_sinh_expm1_expm1_difference_lr_w = dot(expm1_expm1_sinh_expm1_expm1_difference_lr_w, expm1_expm1_sinh_expm1_expm1_difference_lr_w)
  lr = cube(dot_expm1_expm1_sinh_expm1_expm1_difference_lr_w)
  tanh_lr = tanh(lr)
  update = cbrt(g)
  update = update * tanh_lr
  update = arctan(update)
  update = update * 0.4032179638569084
  return update, v
