def train_one_epoch(model, loader, optimizer, criterion):
    model.train()
    model.freeze_bn()  # re-applied after every train()
    for x, y in loader:
        optimizer.zero_grad()
        criterion(model(x), y).backward()
        optimizer.step()
