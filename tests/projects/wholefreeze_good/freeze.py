def freeze_all(module):
    for p in module.parameters():
        p.requires_grad = False
    module.eval()  # its BatchNorm statistics too (until a train() of the model it is part of)
