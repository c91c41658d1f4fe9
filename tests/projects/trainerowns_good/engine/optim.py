import torch


def build_optimizer(model, lr=1e-3):
    return torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.05)


def build_filtered(model, lr=1e-3):
    return torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
