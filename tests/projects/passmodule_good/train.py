import torch

from helpers import freeze

model = torch.nn.Linear(2, 2)
freeze(model.weight)  # a Parameter: setting its flag freezes it
