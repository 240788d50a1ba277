"""A recursive (tree) neural network evaluating AND/OR expression trees.

Run:
    python -m kerasdl run experiments/recursive.py
    python -m kerasdl run experiments/recursive.py --smoke           # 1 epoch on 256 trees

Data: 'bool_trees', generated offline (kerasdl/data/toy_text.py): 5,000 distinct random AND/OR
expressions over T/F up to depth 3 ("((T and F) or T)"), as binary trees whose leaves are the
tokens (``a op b`` is ``((a op) b)``), labelled by their truth value (about half true). 4,000 train
(10% held out for validation) / 1,000 test. Baselines on the test split: the last value 62%, a
bag-of-tokens logistic regression 82%, a per-position one-hot logistic regression 90%.

The faithful run of Socher et al. (2011/2013) is sentiment over the parse trees of the Stanford
Sentiment Treebank; TFDS has its sentences ('glue/sst2') but not its trees, so no TFDS dataset
feeds this model on a user's machine; encode trees as kerasdl.data.toy_text.encode_tree does.

Model (subclassed only: the computation follows each tree): a leaf embedding (5 x 32), one
composition p = tanh(W [c_left; c_right] + b) shared by every node (64 x 32 + 32), a softmax on the
root (32 x 2 + 2): 2,306 parameters, whatever the size of the trees.

Measured with ``python -m kerasdl run experiments/recursive.py`` (2-core x86_64 CPU with AVX-512
shared with another job's tests, load average 4-5; TF 2.21; 2026-12-04): test accuracy 1.000,
test loss 8.8e-05, 10 of 10 epochs; done in 51 s and 49 s. Reproduced exactly by a second run
(the same history.csv, every digit): the run is seeded (trainer.seed=42) and repeats on a CPU
without trainer.deterministic.
"""
from kerasdl.config import Callbacks, Data, EarlyStoppingConfig, Experiment, ModelConfig, Trainer


def get_config() -> Experiment:
    return Experiment(
        name="recursive",
        description="Recursive tree network (Socher et al. 2011) on AND/OR expression trees",
        data=Data(name="bool_trees", source="embedded", rescale=None, batch_size=32,
                  validation_fraction=0.1),
        model=ModelConfig(name="recursive", style="subclassed", kwargs={"embed_dim": 32}),
        trainer=Trainer(optimizer="adam", learning_rate=3e-3,
                        loss="sparse_categorical_crossentropy", metrics=("accuracy",), epochs=10),
        callbacks=Callbacks(monitor="val_loss", early_stopping=EarlyStoppingConfig(patience=3)),
    )
