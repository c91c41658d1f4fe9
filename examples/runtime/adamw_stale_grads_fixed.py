"""Backbone frozen after a warm-up step correctly: grads cleared, optimizer rebuilt on trainable params."""

import torch
import torch.nn.functional as F
from _net import FinetuneNet, batch


def make():
    model = FinetuneNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = batch()
    F.cross_entropy(model(x), torch.zeros(4, dtype=torch.long)).backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)  # grads become None: optimizers skip those parameters
    model.backbone.requires_grad_(False)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    return model, optimizer, x


if __name__ == "__main__":
    from freezelint import audit

    model, optimizer, x = make()
    print(audit(model, optimizer, batch=x, set_to_none=False))
