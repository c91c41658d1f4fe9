import torchvision


def build():
    return torchvision.models.resnet18(weights=None)
