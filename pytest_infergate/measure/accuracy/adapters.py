"""Batched prediction adapters: a transformers pipeline, a (model, tokenizer) pair, an
onnxruntime session with pre/post-processing, or any callable, each turned into a function
from a batch of inputs to predicted labels. A model's type is recognised from its class
hierarchy; its library is imported only when that model is in hand."""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from pytest_infergate.measure.accuracy.common import AccuracyError, Progress, _has_base
from pytest_infergate.measure.accuracy.labels import _Resolver
from pytest_infergate.measure.accuracy.slicing import DataSlice


@dataclass(frozen=True)
class Adapter:
    """How to get raw predictions (ids or label names) for one batch of inputs."""

    kind: str
    predict: Callable[[list[Any]], Any]
    label2id: Mapping[str, int]
    uses_torch: bool
    #: Batches of similar length pad less: order examples by length (tokenised text only).
    sort_by_length: bool = False


def make_adapter(model: object, *, text_inputs: bool = True) -> Adapter:
    """Pick the adapter for ``model`` by its type (see :func:`evaluate_accuracy`)."""
    if _has_base(model, "transformers", "Pipeline"):
        return _pipeline_adapter(model, text_inputs=text_inputs)
    if isinstance(model, tuple):
        head = model[0] if model else None
        if _has_base(head, "onnxruntime", "InferenceSession") and len(model) in (2, 3):
            return _onnx_adapter(*model)
        hf_model = _has_base(head, "transformers", "PreTrainedModel") or _has_base(
            head, "optimum", "ORTModel"
        )
        if hf_model and len(model) == 2:
            return _model_adapter(model[0], model[1])
        raise AccuracyError(
            "a tuple model must be (transformers or optimum model, tokenizer) or "
            "(onnxruntime.InferenceSession, preprocess[, postprocess])"
        )
    if _has_base(model, "onnxruntime", "InferenceSession"):
        raise AccuracyError(
            "an onnxruntime.InferenceSession needs pre-processing: pass (session, preprocess) "
            "where preprocess(list of inputs) returns the feed dict"
        )
    if _has_base(model, "transformers", "PreTrainedModel") or _has_base(
        model, "optimum", "ORTModel"
    ):
        raise AccuracyError(
            f"a {type(model).__name__} needs its tokenizer: pass (model, tokenizer)"
        )
    if callable(model):
        return Adapter("callable", model, {}, uses_torch="torch" in sys.modules)
    raise AccuracyError(
        "model must be a transformers Pipeline, (model, tokenizer), "
        "(onnxruntime.InferenceSession, preprocess) or a callable taking a list of inputs; "
        f"got {type(model).__name__}"
    )


def _label2id(model: object) -> dict[str, int]:
    config = getattr(model, "config", None)
    raw = getattr(config, "label2id", None) or {}
    return {str(k): int(v) for k, v in dict(raw).items()}


def _classifier(
    model: Any, tokenizer: Any, tokenizer_kwargs: Mapping[str, Any]
) -> Callable[[list[Any]], list[Any]]:
    """Tokenise a batch with padding, run the model once, take the top class by name."""
    config = getattr(model, "config", None)
    id2label = {int(k): str(v) for k, v in dict(getattr(config, "id2label", None) or {}).items()}
    device = getattr(model, "device", None)
    kwargs = {"padding": True, **tokenizer_kwargs, "return_tensors": "pt"}

    def predict(batch: list[Any]) -> list[Any]:
        encoded = tokenizer(batch, **kwargs)
        if device is not None:
            encoded = encoded.to(device)
        output = model(**encoded)
        logits = output.logits if hasattr(output, "logits") else output[0]
        return [id2label.get(i, i) for i in logits.argmax(dim=-1).tolist()]

    return predict


def _pipeline_adapter(pipe: Any, *, text_inputs: bool) -> Adapter:
    label2id = _label2id(pipe.model)
    tokenizer = getattr(pipe, "tokenizer", None)
    can_pad = tokenizer is not None and getattr(tokenizer, "pad_token", None) is not None
    fast = (
        text_inputs
        and can_pad
        and _has_base(pipe, "transformers", "TextClassificationPipeline")
        and getattr(pipe, "framework", "pt") == "pt"
    )
    if fast:
        # The pipeline's own tokenizer settings, then the evaluator's truncation=True;
        # one padded forward per batch instead of the pipeline's per-example loop.
        params = dict(getattr(pipe, "_preprocess_params", None) or {})
        params.pop("return_tensors", None)
        params.setdefault("truncation", True)
        predict = _classifier(pipe.model, pipe.tokenizer, params)
        return Adapter("pipeline", predict, label2id, uses_torch=True, sort_by_length=True)

    def call(batch: list[Any]) -> list[Any]:
        # Without a padding token the pipeline can only run one example at a time.
        size = len(batch) if can_pad or tokenizer is None else 1
        return [_pipeline_label(o) for o in pipe(batch, batch_size=size)]

    return Adapter("pipeline", call, label2id, uses_torch=True)


def _pipeline_label(output: object) -> object:
    """The top label of one pipeline output: ``{"label": ..}``, a top-k list of those,
    or zero-shot's ``{"labels": [..]}``."""
    if isinstance(output, list) and output:
        output = output[0]
    if isinstance(output, Mapping):
        if "label" in output:
            return output["label"]
        labels = output.get("labels")
        if isinstance(labels, list) and labels:
            return labels[0]
    return output


def _model_adapter(model: Any, tokenizer: Any) -> Adapter:
    if getattr(model, "training", False):
        raise AccuracyError(
            f"the {type(model).__name__} is in training mode (dropout on, predictions would "
            "not be reproducible); call model.eval() first"
        )
    if not callable(tokenizer):
        raise AccuracyError(
            f"(model, tokenizer): the tokenizer must be callable, got {type(tokenizer).__name__}"
        )
    if getattr(tokenizer, "pad_token", "") is None:
        raise AccuracyError(
            "(model, tokenizer): the tokenizer has no padding token, so batches cannot be "
            "padded; set tokenizer.pad_token (e.g. to tokenizer.eos_token) and "
            "model.config.pad_token_id"
        )
    predict = _classifier(model, tokenizer, {"truncation": True})
    return Adapter("transformers", predict, _label2id(model), uses_torch=True, sort_by_length=True)


def _onnx_adapter(session: Any, preprocess: object, postprocess: object = None) -> Adapter:
    if not callable(preprocess) or (postprocess is not None and not callable(postprocess)):
        raise AccuracyError(
            "(session, preprocess[, postprocess]): preprocess and postprocess must be callables"
        )
    post: Callable[[list[Any]], Any] = postprocess if callable(postprocess) else _argmax_first

    def predict(batch: list[Any]) -> Any:
        feed = preprocess(batch)
        if not isinstance(feed, Mapping):
            raise AccuracyError(
                f"preprocess must return a dict of input name -> array, got {type(feed).__name__}"
            )
        return post(session.run(None, dict(feed)))

    return Adapter("onnxruntime", predict, {}, uses_torch=False)


def _argmax_first(outputs: list[Any]) -> Any:
    """The default ONNX post-processing: the top class of the first output's scores."""
    import numpy as np

    scores = np.asarray(outputs[0])
    if scores.ndim != 2:
        raise AccuracyError(
            f"the ONNX model's first output has shape {scores.shape}, not (batch, classes); "
            "pass (session, preprocess, postprocess)"
        )
    return scores.argmax(axis=-1)


def _as_list(raw: object) -> list[Any]:
    """A batch's predictions as a list: scores (batch, classes) become their argmax."""
    if hasattr(raw, "detach") and hasattr(raw, "cpu"):
        raw = raw.detach().cpu().numpy()  # a torch tensor
    np = sys.modules.get("numpy")
    if np is not None and isinstance(raw, np.ndarray):
        if raw.ndim == 2:
            return list(raw.argmax(axis=-1).tolist())
        if raw.ndim == 1:
            return list(raw.tolist())
        raise AccuracyError(f"model returned an array of shape {raw.shape}; expected (batch,)")
    if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Iterable):
        raise AccuracyError(
            f"model must return one label per input (a list or array), got {type(raw).__name__}"
        )
    return list(raw)


def _inference_context(uses_torch: bool) -> contextlib.AbstractContextManager[object]:
    """``torch.inference_mode()`` whenever torch is involved: no autograd state, faster."""
    if uses_torch or "torch" in sys.modules:
        import torch

        context: contextlib.AbstractContextManager[object] = torch.inference_mode()
        return context
    return contextlib.nullcontext()


def predict_slice(
    adapter: Adapter,
    resolver: _Resolver,
    data: DataSlice,
    batch_size: int,
    progress: Progress | None = None,
) -> tuple[tuple[int, ...], float]:
    """Class ids predicted for every example of ``data`` (in slice order), and the seconds
    spent in the model's batches. Batches are deterministic: same slice, same batches."""
    n = len(data.inputs)
    order = list(range(n))
    if adapter.sort_by_length:
        order.sort(key=lambda i: len(data.inputs[i]))
    predicted: list[int] = [0] * n
    elapsed = 0.0
    with _inference_context(adapter.uses_torch):
        for start in range(0, n, batch_size):
            indices = order[start : start + batch_size]
            batch = [data.inputs[i] for i in indices]
            began = time.perf_counter()
            raw = _as_list(adapter.predict(batch))
            elapsed += time.perf_counter() - began
            if len(raw) != len(batch):
                raise AccuracyError(
                    f"the model returned {len(raw)} predictions for a batch of {len(batch)} "
                    "inputs; it must return one label per input"
                )
            for i, label in zip(indices, raw, strict=True):
                predicted[i] = resolver.predicted(label, f"example {data.names[i]}")
            if progress is not None:
                progress(min(start + batch_size, n), n)
    return tuple(predicted), elapsed
