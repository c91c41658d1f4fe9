from transformers import TrainerCallback


class StagedCallback(TrainerCallback):
    """Runs `stage(model, epoch)` at the start of every epoch."""

    def __init__(self, model):
        self.model = model
