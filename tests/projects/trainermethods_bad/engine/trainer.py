import torch
import torchvision


class Trainer:
    """Holds the model it is given; builds its optimizer over every parameter of it."""

    def __init__(self, model, lr=1e-3):
        self.model = model
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=lr)

    def freeze_early_layers(self):
        for p in self.model.layer1.parameters():
            p.requires_grad = False

    def finetune(self, loader):
        self.freeze_early_layers()
        self.fit(loader)

    def fit(self, loader):
        self.model.train()
        for x, y in loader:
            loss = torch.nn.functional.cross_entropy(self.model(x), y)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()


class FilteredTrainer:
    """Builds its optimizer over the parameters that require grad when it is built; holds a
    teacher of its own besides."""

    def __init__(self, model, lr=1e-3):
        self.model = model
        self.teacher = torchvision.models.resnet50(weights=None)
        self.optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)

    def freeze_early_layers(self):
        self.model.layer1.requires_grad_(False)

    def unfreeze_all(self):
        for p in self.model.parameters():
            p.requires_grad = True

    def unfreeze_last_stage(self):
        self.model.layer4.requires_grad_(True)
        self.optimizer.add_param_group({"params": self.model.layer4.parameters()})

    def unfreeze_teacher(self):
        self.teacher.requires_grad_(True)

    def distill(self):
        self.unfreeze_teacher()
