def freeze(part):
    part.requires_grad = False  # expect: FZ102
