def freeze(part):
    part.requires_grad = False
