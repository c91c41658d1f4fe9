import torch.nn as nn


def set_trainable(model: nn.Module, train_all: bool = False) -> None:
    for n, p in model.named_parameters():
        if "lora_" not in n:
            p.requires_grad = False
    if train_all:  # everything it froze, set back (no name test of its own)
        for p in model.parameters():
            p.requires_grad = True


def toggle(model: nn.Module) -> None:
    for n, p in model.named_parameters():
        if "lora_" not in n:
            p.requires_grad = False
    for n, p in model.named_parameters():
        if "lora_" not in n:  # the same parameters set back
            p.requires_grad = True


def mark_by_setting(model: nn.Module, train_all: bool) -> None:
    for name, param in model.named_parameters():
        param.requires_grad = "adapter" in name or train_all  # a setting may make every flag True
