from torch import nn

from models.backbones import Backbone, Base, Config, Switch


class Neck(nn.Module):
    def __init__(self):
        super().__init__()
        self.proj = nn.Linear(8, 8)


class Net(Base):
    def __init__(self):
        super().__init__()
        self.backbone = Backbone(8)
        self.neck = Neck()
        self.switch = Switch()
        self.cfg = Config()
        self.head = nn.Linear(8, 2)

    def forward(self, x):
        return self.head(self.switch(self.neck(self.backbone(x))))
