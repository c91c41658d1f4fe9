import torchvision

from engine.trainer import Trainer


def main(loader):
    model = torchvision.models.resnet18(weights=None)
    trainer = Trainer(model)
    trainer.fit(loader)
    model.layer1.requires_grad_(False)  # after the last step: no step moves it
    return model
