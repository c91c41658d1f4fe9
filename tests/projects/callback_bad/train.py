import torchvision
from lightning.pytorch import Trainer
from torch import nn

from callbacks import FreezeEncoder, UnfreezeBackbone
from model import Classifier, Finetuner


def main():
    backbone = torchvision.models.resnet18(weights="DEFAULT")
    backbone.fc = nn.Identity()
    trainer = Trainer(max_epochs=10, callbacks=[UnfreezeBackbone(epoch=3)])
    trainer.fit(Classifier(backbone, nn.Linear(512, 10)))
    trainer = Trainer(max_epochs=5, callbacks=[FreezeEncoder()])
    trainer.fit(Finetuner(backbone, nn.Linear(512, 10)))


if __name__ == "__main__":
    main()
