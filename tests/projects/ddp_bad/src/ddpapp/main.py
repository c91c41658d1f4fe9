from torch.nn.parallel import DistributedDataParallel as DDP

from ddpapp.freezing import freeze_backbone
from ddpapp.model import build

model = build()
model = model.to(rank)
model = DDP(model.to(rank), device_ids=[rank])
freeze_backbone(model.module)  # expect: FZ306
