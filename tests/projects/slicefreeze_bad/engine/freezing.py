def freeze_all_but_last(model, k=2):
    """Freezes every parameter but the last `k` (the head's weight and bias)."""
    for p in list(model.parameters())[:-k]:
        p.requires_grad = False


def freeze_all_children_but_head(model):
    for child in list(model.children())[:-1]:
        for p in child.parameters():
            p.requires_grad = False
