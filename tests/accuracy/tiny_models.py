"""A tiny real classifier and generated sentences for the accuracy tests (no hub, no files)."""

from __future__ import annotations

import random

import torch
from transformers import BertConfig, BertForSequenceClassification

N_EXAMPLES = 300
N_CLASSES = 3

_OPENERS = ["Hi,", "Hello.", "Good morning.", "Quick question:", "Please help:", ""]
_SUBJECTS = ["my card", "the transfer", "my balance", "the refund", "my PIN", "the top-up"]
_PROBLEMS = [
    "has not arrived yet",
    "was declined at the shop",
    "still shows the old amount",
    "is not showing in the app",
    "needs to be changed",
    "failed twice this morning",
    "looks wrong to me",
]
_CLOSERS = ["", "Thanks.", "What should I do?", "Can you check?", "Cheers."]


def make_texts(n: int, seed: int = 0) -> list[str]:
    """``n`` distinct, deterministic customer sentences of varied length."""
    rng = random.Random(seed)
    texts: list[str] = []
    while len(texts) < n:
        parts = [rng.choice(_OPENERS), rng.choice(_SUBJECTS), rng.choice(_PROBLEMS)]
        parts.append(rng.choice(_CLOSERS))
        text = " ".join(p for p in parts if p) + f" (ref {len(texts)})"
        texts.append(text)
    return texts


def tiny_bert(tokenizer: object, *, seed: int = 0, id2label: dict[int, str] | None = None):
    """A 2-layer, hidden-32 BERT classifier with seeded random weights, in eval mode.

    A wide initialiser (0.5 instead of 0.02) makes its predictions depend on the
    text rather than collapse onto one class.
    """
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,  # type: ignore[attr-defined]
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
        num_labels=N_CLASSES,
        initializer_range=0.5,
        **(
            {"id2label": id2label, "label2id": {v: k for k, v in id2label.items()}}
            if id2label
            else {}
        ),
    )
    return BertForSequenceClassification(config).eval()
