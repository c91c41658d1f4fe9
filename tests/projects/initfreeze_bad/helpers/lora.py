import torch.nn as nn


def mark_only_lora_as_trainable(model: nn.Module, bias: str = "none") -> None:  # loralib's helper
    for n, p in model.named_parameters():
        if "lora_" not in n:
            p.requires_grad = False
    if bias == "none":
        return
    elif bias == "all":
        for n, p in model.named_parameters():
            if "bias" in n:
                p.requires_grad = True


def mark_only_adapter_as_trainable(model: nn.Module) -> None:  # lit-llama's helper
    for name, param in model.named_parameters():
        param.requires_grad = "adapter_wte" in name or "gating_factor" in name
