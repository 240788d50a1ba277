"""Greedy exact match of a trained seq2seq model on the 2,000 test numbers (issue #15, 3).

``python -m kerasdl run experiments/seq2seq.py`` reports the token accuracy of teacher forcing;
the figure a translation is judged by is whether the whole greedy decoding is right. This loads
the run's model, decodes every test number of 'number_words' (split_seed 0, the experiment's)
with ``kerasdl.models.seq2seq.greedy_decode`` and prints how many decode exactly:

    python bench/seq2seq_exact_match.py runs/seq2seq-YYYYMMDD-HHMMSS     # or .../model.keras
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a seq2seq run directory, or its model.keras")
    parser.add_argument("--split-seed", type=int, default=0, help="data.split_seed of the run")
    args = parser.parse_args(argv)

    from kerasdl.quiet import filtered_stderr, import_tensorflow

    import_tensorflow()                    # TensorFlow's start-up lines filtered, as a run does
    import kerasdl
    from kerasdl.data import toy_text
    from kerasdl.models.seq2seq import exact_match, greedy_decode

    path = Path(args.model)
    data = toy_text.load_number_words(split_seed=args.split_seed)
    with filtered_stderr():                # and oneDNN's notices at the first prediction
        model = kerasdl.load_model(str(path / "model.keras" if path.is_dir() else path))
        decoded = greedy_decode(model, data.x_test[0], toy_text.START_ID, toy_text.END_ID,
                                toy_text.TARGET_LENGTH)
    score = exact_match(decoded, data.y_test, toy_text.END_ID)
    total = len(data.y_test)
    print(f"greedy exact match {int(round(score * total)):,} of {total:,} test numbers "
          f"({score:.4f})")
    wrong = [i for i, (p, t) in enumerate(zip(decoded, data.y_test))
             if exact_match([p], [t], toy_text.END_ID) < 1.0]
    for i in wrong[:5]:
        print(f"  wrong: {toy_text.decode_target(np.asarray(data.y_test[i]))!r} decoded as "
              f"{toy_text.decode_target(np.asarray(decoded[i]))!r}")


if __name__ == "__main__":
    main()
