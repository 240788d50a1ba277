"""Generated text, translation and tree datasets: offline stand-ins for the real text tasks.

Every one is generated from a fixed seed (``GENERATION_SEED``; the content never changes) and split
into train/test by a seeded permutation (``data.split_seed``). Token id 0 is always padding.

* ``number_words`` (seq2seq, Sutskever et al. 2014 style translation): every number 0..9,999
  written in English words -> its decimal digits. "four thousand three hundred twelve" ->
  "4 3 1 2". Sources are 1..6 words, targets 1..4 digits plus an end token: different lengths.
  Features are the pair ``(source_ids (6,), decoder_input_ids (5,))`` (teacher forcing: the
  decoder input is the target shifted right behind ``START_ID``), labels the target ids ``(5,)``
  ending in ``END_ID``. 8,000 train / 2,000 test numbers; no number is in both.
* ``bool_trees`` (recursive net, Socher et al. 2011): random AND/OR expressions over True/False up
  to depth 3 ("(T and (F or T))"), as binary trees whose leaves are the tokens, labelled by their
  truth value (balanced by the T/F, and/or symmetry). ``a op b`` is the tree ``((a op) b)``. Each
  tree is an int32 array ``(29, 3)`` of nodes ``[token, left, right]`` in post-order, padded at the
  front with ``[0, -1, -1]`` so the root is always the last row; leaves have ``left = right = -1``
  and internal nodes token 0 and the row indices of their children. 4,000 train / 1,000 test
  distinct expressions.
* ``toy_reviews`` (transformer classifier): one to three short clauses about a film ("the plot
  was not very dull but the acting was weak"), raw strings of 4..20 words, labelled positive (1)
  or negative (0) by the summed polarity of their adjectives, where "not" flips the adjective it
  precedes; ties are not generated. 2,000 train / 500 test.

Each loader is ``loader(split_seed) -> Splits`` and registered with ``@register_dataset``.
"""
from __future__ import annotations

import numpy as np

from kerasdl.data.embedded import register_dataset
from kerasdl.data.splits import Splits
from kerasdl.data.translation import Vocabularies

#: seed of the generated content (the train/test split uses data.split_seed)
GENERATION_SEED = 1234

# === number_words: English number words -> digits ===

ONES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
        "eleven", "twelve", "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen",
        "nineteen"]
TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
#: source vocabulary; a word's id is its index + 1 (0 is padding)
SOURCE_WORDS = ONES + TENS[2:] + ["hundred", "thousand"]
SOURCE_VOCAB_SIZE = len(SOURCE_WORDS) + 1          # 31
PAD_ID, START_ID, END_ID = 0, 1, 2
#: target vocabulary: padding, start, end, then the digits 0..9 (id = digit + 3)
TARGET_TOKENS = ["<pad>", "<start>", "<end>"] + [str(d) for d in range(10)]
TARGET_VOCAB_SIZE = len(TARGET_TOKENS)              # 13
SOURCE_LENGTH, TARGET_LENGTH = 6, 5                 # most words; most digits (4) + end
NUMBER_WORDS_VOCABULARIES = Vocabularies(("<pad>", *SOURCE_WORDS), tuple(TARGET_TOKENS),
                                         SOURCE_LENGTH, TARGET_LENGTH, "<start>", "<end>")


def number_to_words(n: int) -> list[str]:
    """English words of 0 <= n < 10,000, no "and" (4312: four thousand three hundred twelve)."""
    if not 0 <= n < 10_000:
        raise ValueError(f"n must be in [0, 10000); received: n={n}")
    if n == 0:
        return ["zero"]
    words: list[str] = []
    thousands, rest = divmod(n, 1000)
    hundreds, rest = divmod(rest, 100)
    if thousands:
        words += [ONES[thousands], "thousand"]
    if hundreds:
        words += [ONES[hundreds], "hundred"]
    if rest >= 20:
        words.append(TENS[rest // 10])
        if rest % 10:
            words.append(ONES[rest % 10])
    elif rest:
        words.append(ONES[rest])
    return words


def encode_source(words: list[str]) -> np.ndarray:
    """Number words -> source ids (``SOURCE_LENGTH``,), right-padded with 0."""
    ids = np.zeros(SOURCE_LENGTH, np.int32)
    ids[:len(words)] = [SOURCE_WORDS.index(w) + 1 for w in words]
    return ids


def decode_target(ids) -> str:
    """Target ids -> the digit string, stopping at the end token ("4312")."""
    digits = []
    for i in np.asarray(ids).tolist():
        if i == END_ID or i == PAD_ID:
            break
        digits.append(TARGET_TOKENS[i] if i > END_ID else "?")
    return "".join(digits)


def number_words_arrays(numbers) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """((source ids, decoder input ids), target ids) for the given numbers."""
    source = np.stack([encode_source(number_to_words(int(n))) for n in numbers])
    decoder_input = np.zeros((len(numbers), TARGET_LENGTH), np.int32)
    target = np.zeros((len(numbers), TARGET_LENGTH), np.int32)
    for row, n in enumerate(numbers):
        digits = [int(c) + 3 for c in str(int(n))]
        decoder_input[row, :len(digits) + 1] = [START_ID] + digits
        target[row, :len(digits) + 1] = digits + [END_ID]
    return (source, decoder_input), target


@register_dataset("number_words")
def load_number_words(split_seed: int) -> Splits:
    """Number words -> digits for 0..9,999: 8,000 train / 2,000 test numbers drawn by ``split_seed``."""
    numbers = np.random.default_rng(split_seed).permutation(10_000)
    train, test = numbers[:8000], numbers[8000:]
    x_train, y_train = number_words_arrays(train)
    x_test, y_test = number_words_arrays(test)
    return Splits.from_arrays(x_train, y_train, x_test, y_test, TARGET_VOCAB_SIZE,
                              "generated number words -> digits (0..9,999; 8,000/2,000 train/test "
                              f"numbers, split_seed={split_seed})",
                              vocabularies=NUMBER_WORDS_VOCABULARIES)


# === bool_trees: AND/OR expressions over True/False as binary trees ===

#: leaf tokens; id = index + 1 (0: padding and internal nodes)
TREE_TOKENS = ["T", "F", "and", "or"]
TREE_VOCAB_SIZE = len(TREE_TOKENS) + 1             # 5
TREE_DEPTH = 3


def max_tree_nodes(depth: int = TREE_DEPTH) -> int:
    """Nodes of a full expression tree of ``depth``; ``a op b`` adds 3: op, (a op) and the root."""
    return 4 * 2 ** depth - 3


def random_expression(rng: np.random.Generator, depth: int, p_operator: float = 0.7):
    """A nested tuple (left, "and"/"or", right) or "T"/"F"; the root is always an operator."""
    def grow(level: int, force: bool):
        if level < depth and (force or rng.random() < p_operator):
            return (grow(level + 1, False), "and" if rng.random() < 0.5 else "or",
                    grow(level + 1, False))
        return "T" if rng.random() < 0.5 else "F"
    return grow(0, depth > 0)


def evaluate(expression) -> bool:
    """The truth value of an expression (a nested tuple, or "T"/"F")."""
    if isinstance(expression, str):
        return expression == "T"
    left, op, right = expression
    if op == "and":
        return evaluate(left) and evaluate(right)
    return evaluate(left) or evaluate(right)


def to_text(expression) -> str:
    """An expression as parenthesised text: "(T and (F or T))"."""
    if isinstance(expression, str):
        return expression
    left, op, right = expression
    return f"({to_text(left)} {op} {to_text(right)})"


def encode_tree(expression, max_nodes: int = max_tree_nodes()) -> np.ndarray:
    """Post-order ``[token, left, right]`` rows, padded in front so that the root is the last row.

    ``a op b`` becomes the binary tree ``((a op) b)``: the same composition joins any two children.
    """
    rows: list[list[int]] = []

    def leaf(token: str) -> int:
        rows.append([TREE_TOKENS.index(token) + 1, -1, -1])
        return len(rows) - 1

    def join(left: int, right: int) -> int:
        rows.append([0, left, right])
        return len(rows) - 1

    def visit(node) -> int:
        if isinstance(node, str):
            return leaf(node)
        left, op, right = node
        partial = join(visit(left), leaf(op))
        return join(partial, visit(right))

    visit(expression)
    if len(rows) > max_nodes:
        raise ValueError(f"the tree has {len(rows)} nodes; max_nodes={max_nodes}")
    pad = max_nodes - len(rows)
    encoded = np.array([[0, -1, -1]] * pad + rows, np.int32).reshape(max_nodes, 3)
    internal = encoded[:, 1] >= 0
    encoded[internal, 1:] += pad                      # child indices after the padding
    return encoded


@register_dataset("bool_trees")
def load_bool_trees(split_seed: int, n_train: int = 4000, n_test: int = 1000) -> Splits:
    """Distinct generated AND/OR expression trees labelled by truth value, split by ``split_seed``."""
    rng = np.random.default_rng(GENERATION_SEED)
    seen, expressions = set(), []
    while len(expressions) < n_train + n_test:
        expression = random_expression(rng, TREE_DEPTH)
        text = to_text(expression)
        if text not in seen:
            seen.add(text)
            expressions.append(expression)
    order = np.random.default_rng(split_seed).permutation(len(expressions))
    trees = np.stack([encode_tree(e) for e in expressions])[order]
    labels = np.array([int(evaluate(e)) for e in expressions], np.int64)[order]
    return Splits.from_arrays(
        trees[:n_train], labels[:n_train], trees[n_train:], labels[n_train:], 2,
        f"generated AND/OR expression trees of depth <= {TREE_DEPTH} "
        f"({n_train}/{n_test} train/test, generation seed {GENERATION_SEED}, "
        f"split_seed={split_seed})")


# === toy_reviews: raw-string sentiment with negation ===

POSITIVE = ["good", "great", "excellent", "fun", "moving", "brilliant", "charming", "superb"]
NEGATIVE = ["bad", "awful", "boring", "dull", "terrible", "weak", "poor", "messy"]
NOUNS = ["movie", "film", "plot", "acting", "story", "cast", "script", "ending", "music"]
VERBS = ["was", "is", "felt", "seemed"]
INTENSIFIERS = ["very", "really", "quite", "rather"]
CONJUNCTIONS = ["and", "but", "while", "although"]


def random_review(rng: np.random.Generator) -> tuple[str, int]:
    """A review of 1..3 clauses and its label (1 positive, 0 negative); never a tie."""
    while True:
        words, score = [], 0
        for clause in range(rng.integers(1, 4)):
            if clause:
                words.append(str(rng.choice(CONJUNCTIONS)))
            words += ["the", str(rng.choice(NOUNS)), str(rng.choice(VERBS))]
            negated = rng.random() < 0.35
            if negated:
                words.append("not")
            if rng.random() < 0.3:
                words.append(str(rng.choice(INTENSIFIERS)))
            positive = rng.random() < 0.5
            words.append(str(rng.choice(POSITIVE if positive else NEGATIVE)))
            score += (1 if positive else -1) * (-1 if negated else 1)
        if score:
            return " ".join(words), int(score > 0)


@register_dataset("toy_reviews")
def load_toy_reviews(split_seed: int, n_train: int = 2000, n_test: int = 500) -> Splits:
    """Generated film reviews with negation, raw strings labelled by sentiment, split by ``split_seed``."""
    rng = np.random.default_rng(GENERATION_SEED)
    pairs = [random_review(rng) for _ in range(n_train + n_test)]
    order = np.random.default_rng(split_seed).permutation(len(pairs))
    texts = np.array([pairs[i][0] for i in order])
    labels = np.array([pairs[i][1] for i in order], np.int64)
    return Splits.from_arrays(
        texts[:n_train], labels[:n_train], texts[n_train:], labels[n_train:], 2,
        f"generated film reviews with negation, raw strings ({n_train}/{n_test} "
        f"train/test, generation seed {GENERATION_SEED}, split_seed={split_seed})")
