from model import Net

model = Net()
for epoch in range(10):
    model.train()
    for x in loader:
        model(x).sum().backward()
