"""Fine-tune a pretrained BERT (keras-hub's bert_tiny_en_uncased) on SST-2 sentiment, from raw text.

Run (downloads the preset from Kaggle and glue/sst2 through TFDS):
    python -m kerasdl run experiments/bert_finetune.py
    python -m kerasdl run experiments/bert_finetune.py --smoke       # 1 epoch on 256 sentences
    python -m kerasdl run experiments/bert_finetune.py --set finetune.recipe=linear_probe
    python -m kerasdl run experiments/bert_finetune.py --set finetune.backbone=hub:bert_small_en_uncased

Offline (no Kaggle, no TFDS): a preset directory (``save_to_preset`` of a keras-hub text
classifier, or of a backbone and its tokenizer; a download copied from a connected machine) and a
text folder (one subfolder of .txt files per class, one example per file):
    python -m kerasdl run experiments/bert_finetune.py \\
        --set finetune.backbone=hub:/path/to/preset --set data.name=textfolder:/path/to/texts

After the run the model takes raw lines, its tokenizer inside (kerasdl/transfer/hub.py):
    python -m kerasdl predict runs/<run> lines.txt          # one sentence per line
    python -m kerasdl export runs/<run> --format saved_model
The SavedModel's serving signature takes a batch of strings; it uses TensorFlow Text's ops, so
the serving process imports ``tensorflow_text`` before ``tf.saved_model.load``.

Data: glue/sst2 (Socher et al. 2013, in GLUE): 67,349 training sentences of film reviews, labelled
negative / positive; GLUE's test split has no labels, so its 872 validation sentences are the
test split here, and 5% of the training sentences are held out for validation.

Model: bert_tiny_en_uncased (Turc et al. 2019, "Well-Read Students Learn Better": 2 layers,
hidden 128, 2 heads, 4.4M parameters, a 30,522-word uncased WordPiece vocabulary) -> its pooled
[CLS] output -> softmax(2); sentences packed to 64 tokens (model.kwargs.sequence_length).

Recipe: finetune_all, the BERT fine-tune (Devlin et al. 2019): everything at 5e-5
(finetune.second_learning_rate) with AdamW for 3 epochs, batch 32. It runs the backbone with its
dropout off (kerasdl's inference mode for fine-tuning); retrain_all trains with BERT's dropout on.
linear_probe and two_phase train the new head at trainer.learning_rate (1e-3). cut_and_probe
does not apply (a text backbone's features are its pooled output). The from-scratch baseline on
the same data: --set finetune.recipe=None (the tiny transformer_classifier of
experiments/transformer.py, its vocabulary adapted on the training split).

Not measured here (this machine has no network for the preset and the data); the offline path is
exercised by tests/test_bert_finetune.py on a tiny random preset.
"""
from kerasdl.config import (DEFAULT_SMOKE, Callbacks, Data, EarlyStoppingConfig, Experiment, Finetune,
                            ModelConfig, Trainer)


def get_config() -> Experiment:
    return Experiment(
        name="bert_finetune",
        description="keras-hub BERT (tiny) fine-tuned on SST-2 sentiment from raw text",
        data=Data(name="glue/sst2", source="tfds", test_split="validation", rescale=None,
                  batch_size=32, validation_fraction=0.05),
        # the from-scratch baseline (finetune.recipe=None); a hub text preset reads only
        # sequence_length from these kwargs (tokens per sentence, [CLS] and [SEP] included)
        model=ModelConfig(name="transformer_classifier", style="functional",
                          kwargs={"preset": "tiny", "sequence_length": 64}),
        trainer=Trainer(optimizer="adamw", learning_rate=1e-3, epochs=3, metrics=("accuracy",)),
        callbacks=Callbacks(monitor="val_accuracy", early_stopping=EarlyStoppingConfig(enabled=False)),
        finetune=Finetune(recipe="finetune_all", backbone="hub:bert_tiny_en_uncased",
                          weights="preset", second_learning_rate=5e-5, head_epochs=1),
        smoke=dict(DEFAULT_SMOKE),
    )
