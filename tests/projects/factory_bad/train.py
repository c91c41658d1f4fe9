import models

net = models.resnet50(num_classes=3)
net.requires_grad = False  # expect: FZ102
net.fc.requires_grad = True  # expect: FZ102
net.training = True  # expect: FZ106
