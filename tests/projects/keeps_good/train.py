import torch

from engine import train_one_epoch
from freeze import freeze_backbone
from models import Plain
from student import Student

student = Student()
freeze_backbone(student)
plain = Plain()
freeze_backbone(plain)
optimizer = torch.optim.SGD([*student.head.parameters(), *plain.head.parameters()], lr=0.1)
for epoch in range(10):
    train_one_epoch(student, optimizer, loader)
    train_one_epoch(plain, optimizer, loader, freeze_backbone)  # re-frozen after train()
