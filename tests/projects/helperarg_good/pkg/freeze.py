def freeze_backbone(model):
    model.backbone.requires_grad = False  # train.py passes its parsed arguments: a setting


def freeze_scale(p):
    p.requires_grad = False  # train.py passes a Parameter: correct


def freeze_mixed(model):
    model.requires_grad = False  # train.py passes a Module, evaluate.py something unknown


def freeze_default(model=None):
    model.requires_grad = False  # one call leaves the default: unknown


def freeze_head(model):
    model.head.requires_grad_(False)  # the right call


def freeze_spread(*parts):
    for part in parts:
        part.requires_grad = False
