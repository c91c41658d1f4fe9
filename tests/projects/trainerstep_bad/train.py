import torchvision

from engine.trainer import Trainer


def main(loader):
    model = torchvision.models.resnet18(weights=None)
    trainer = Trainer(model)  # expect: FZ301
    model.layer1.requires_grad_(False)  # after the trainer built its optimizer, before fit() trains
    trainer.fit(loader)
    return model
