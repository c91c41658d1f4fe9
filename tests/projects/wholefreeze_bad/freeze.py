def freeze_all(module):
    for p in module.parameters():
        p.requires_grad = False
