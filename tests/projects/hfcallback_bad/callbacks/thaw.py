from callbacks.base import StagedCallback


class ThawEncoder(StagedCallback):
    """Staged fine-tuning: the encoder, frozen by the training script, trains from `epoch` on."""

    def __init__(self, model, epoch):
        super().__init__(model)
        self.epoch = epoch

    def on_epoch_begin(self, args, state, control, **kwargs):
        if state.epoch == self.epoch:
            for p in self.model.wav2vec2.encoder.parameters():
                p.requires_grad = True  # expect: FZ303
