"""Backbone frozen after a warm-up step, with its grads left in place: AdamW keeps moving it.

`freezelint audit examples/runtime/adamw_stale_grads.py:make --no-set-to-none` reports FZ501 and FZ504.
"""

import torch
import torch.nn.functional as F
from _net import FinetuneNet, batch


def make():
    model = FinetuneNet()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)  # weight_decay=0.01 by default
    x = batch()
    F.cross_entropy(model(x), torch.zeros(4, dtype=torch.long)).backward()  # warm-up step on everything
    optimizer.step()
    optimizer.zero_grad(set_to_none=False)  # grads become zero tensors, not None
    model.backbone.requires_grad_(False)  # freezing does not clear .grad
    return model, optimizer, x


if __name__ == "__main__":
    from freezelint import audit

    model, optimizer, x = make()
    print(audit(model, optimizer, batch=x, set_to_none=False))
