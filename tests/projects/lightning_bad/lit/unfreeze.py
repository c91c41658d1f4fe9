def unfreeze_backbone(module):
    for p in module.backbone.parameters():
        p.requires_grad = True
