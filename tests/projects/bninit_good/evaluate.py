from model import Net

model = Net()
model.eval()
for x in loader:
    print(model(x).argmax(1))
