def freeze_backbone(model):
    model.backbone.requires_grad = False  # expect: FZ102


def freeze_all(net):
    net.requires_grad = False  # expect: FZ102


def freeze_first(model):
    model.layer1.requires_grad = False  # expect: FZ102
