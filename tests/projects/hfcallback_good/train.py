from transformers import TrainingArguments, Wav2Vec2ForCTC

from callbacks.thaw import ThawEncoder
from trainers import FullTrainer


def main(train_dataset, data_collator):
    model = Wav2Vec2ForCTC.from_pretrained("facebook/wav2vec2-base")
    model.wav2vec2.encoder.requires_grad_(False)
    trainer = FullTrainer(
        model=model,
        args=TrainingArguments(output_dir="out", num_train_epochs=10),
        train_dataset=train_dataset,
        data_collator=data_collator,
        callbacks=[ThawEncoder(model, epoch=3)],
    )
    trainer.train()
