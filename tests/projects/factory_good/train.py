import models

net = models.resnet50(num_classes=3)
net.requires_grad_(False)
net.fc.requires_grad_(True)
net.train(True)
