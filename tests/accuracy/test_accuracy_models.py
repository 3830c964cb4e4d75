"""``evaluate_accuracy`` through real models: a transformers pipeline, a model with its
tokenizer, an optimum ORTModel, an onnxruntime session built with onnx.helper, a callable."""

from __future__ import annotations

import hashlib

import numpy as np
import onnx
import onnxruntime
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper
from transformers import pipeline

from pytest_infergate.measure.accuracy import AccuracyError, evaluate_accuracy

N_CLASSES = 3  # as the tiny model in conftest


def test_pipeline_matches_the_pipelines_own_predictions(
    tiny_pipeline, intents, base_predictions
) -> None:
    """The batched, length-sorted path must not change a single prediction."""
    result = evaluate_accuracy(tiny_pipeline, intents, batch_size=16)
    assert result.predictions == tuple(base_predictions)
    assert result.value == pytest.approx(0.85)
    assert (result.n, result.correct) == (300, 255)
    assert result.low < 0.85 < result.high
    assert result.sampling == "all 300"


def test_pipeline_runs_under_inference_mode(tiny_pipeline, intents) -> None:
    seen = []

    def model(batch):
        seen.append(torch.is_inference_mode_enabled())
        return [0] * len(batch)

    evaluate_accuracy(model, intents, limit=40)
    assert seen == [True, True]


def test_model_and_tokenizer_match_the_pipeline(tiny_model, tokenizer, intents, base_predictions):
    result = evaluate_accuracy((tiny_model, tokenizer), intents, batch_size=64)
    assert result.predictions == tuple(base_predictions)


def test_model_in_training_mode_is_refused(make_tiny_bert, tokenizer, intents) -> None:
    model = make_tiny_bert(tokenizer).train()
    with pytest.raises(AccuracyError, match=r"in training mode .* call model.eval\(\) first"):
        evaluate_accuracy((model, tokenizer), intents)
    with pytest.raises(AccuracyError, match="needs its tokenizer: pass \\(model, tokenizer\\)"):
        evaluate_accuracy(model.eval(), intents)


# The legacy TorchScript export optimum uses warns about itself; not ours to fix.
@pytest.mark.filterwarnings("ignore::DeprecationWarning", "ignore::torch.jit.TracerWarning")
def test_optimum_ort_model_agrees_with_pytorch(
    tiny_model_dir, tmp_path, tokenizer, intents, base_predictions
):
    from optimum.exporters.onnx import main_export
    from optimum.onnxruntime import ORTModelForSequenceClassification

    # Exported into a directory of ours: from_pretrained(export=True) leaves its temporary
    # directory to the garbage collector (a ResourceWarning, an error under -W error).
    main_export(str(tiny_model_dir), output=tmp_path, task="text-classification")
    ort_model = ORTModelForSequenceClassification.from_pretrained(tmp_path)
    direct = evaluate_accuracy((ort_model, tokenizer), intents)
    through_pipeline = evaluate_accuracy(
        pipeline("text-classification", model=ort_model, tokenizer=tokenizer), intents
    )
    assert direct.predictions == through_pipeline.predictions
    # ONNX Runtime and PyTorch round differently; on this model no prediction moves.
    assert direct.predictions == tuple(base_predictions)


def test_dataset_class_names_are_matched_by_name(make_tiny_bert, tokenizer, intents_dataset):
    """A model whose names are the data's class names, in another order: matched by name."""
    id2label = {0: "balance", 1: "card", 2: "transfer"}
    named = pipeline(
        "text-classification",
        model=make_tiny_bert(tokenizer, id2label=id2label),
        tokenizer=tokenizer,
    )
    result = evaluate_accuracy(named, intents_dataset, limit=60)
    names = intents_dataset.features["label"].names
    outputs = [out["label"] for out in named(list(intents_dataset["text"][:60]), batch_size=60)]
    assert list(result.predictions) == [names.index(label) for label in outputs]
    # The model's ids are *not* the data's ids here: mapping by id would differ.
    assert list(result.predictions) != [named.model.config.label2id[x] for x in outputs]


def test_unrelated_model_names_use_the_configs_ids(
    tiny_pipeline, intents_dataset, base_predictions
):
    """LABEL_0... say nothing about the data's names: the config's label2id links them."""
    result = evaluate_accuracy(tiny_pipeline, intents_dataset)
    assert result.predictions == tuple(base_predictions)
    with pytest.raises(
        AccuracyError, match=r"model predicted 'LABEL_\d', which is outside the label map"
    ):
        evaluate_accuracy(tiny_pipeline, intents_dataset, label_map=["card", "transfer", "balance"])


# -- an ONNX bag-of-words classifier built with onnx.helper -----------------------------

FEATURES = 64


def _featurise(texts: list[str]) -> np.ndarray:
    """Hashed bag of words: counts of each word's bucket."""
    out = np.zeros((len(texts), FEATURES), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in text.lower().split():
            out[row, int(hashlib.md5(word.encode()).hexdigest(), 16) % FEATURES] += 1.0
    return out


@pytest.fixture(scope="module")
def onnx_classifier(tmp_path_factory):
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(FEATURES, N_CLASSES)).astype(np.float32)
    bias = rng.normal(size=(N_CLASSES,)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "W"], ["product"]),
            helper.make_node("Add", ["product", "b"], ["logits"]),
        ],
        "bag_of_words",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [None, FEATURES])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [None, N_CLASSES])],
        initializer=[numpy_helper.from_array(weights, "W"), numpy_helper.from_array(bias, "b")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    path = tmp_path_factory.mktemp("onnx") / "bow.onnx"
    onnx.save(model, path)
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session, weights, bias


def test_onnxruntime_session_with_preprocessing(onnx_classifier, intents) -> None:
    session, weights, bias = onnx_classifier
    expected = (_featurise([r["text"] for r in intents]) @ weights + bias).argmax(axis=1)
    result = evaluate_accuracy(
        (session, lambda texts: {"features": _featurise(texts)}), intents, batch_size=50
    )
    assert result.predictions == tuple(int(i) for i in expected)
    assert len(set(result.predictions)) == N_CLASSES  # it does discriminate

    names = ["card", "transfer", "balance"]
    labelled = evaluate_accuracy(
        (
            session,
            lambda texts: {"features": _featurise(texts)},
            lambda outputs: [names[i] for i in outputs[0].argmax(axis=1)],
        ),
        intents,
        label_map=names,
    )
    assert labelled.predictions == result.predictions


def test_onnxruntime_session_errors(onnx_classifier, intents) -> None:
    session = onnx_classifier[0]
    with pytest.raises(AccuracyError, match=r"needs pre-processing: pass \(session, preprocess\)"):
        evaluate_accuracy(session, intents)
    with pytest.raises(AccuracyError, match="preprocess must return a dict"):
        evaluate_accuracy((session, _featurise), intents)


def test_callable_returning_torch_scores(tiny_model, tokenizer, intents, base_predictions) -> None:
    def model(texts):
        encoded = tokenizer(texts, padding=True, truncation=True, return_tensors="pt")
        return tiny_model(**encoded).logits

    result = evaluate_accuracy(model, intents, metric="f1_macro", limit=100, sample="random")
    assert result.metric == "f1_macro"
    assert 0.0 < result.value <= 1.0
    assert result.sampling == "random 100 of 300, seed 0"


# -- evaluate modules -------------------------------------------------------------------


def _numpy_accuracy_module(name: str, value=None):
    """An evaluate.Metric computed with numpy (the hub's metrics cannot load offline)."""
    import datasets
    import evaluate

    class NumpyAccuracy(evaluate.Metric):
        def _info(self):
            return evaluate.MetricInfo(
                description="accuracy with numpy",
                citation="",
                features=datasets.Features(
                    {"predictions": datasets.Value("int32"), "references": datasets.Value("int32")}
                ),
            )

        def _compute(self, predictions, references):
            score = float(np.mean(np.asarray(predictions) == np.asarray(references)))
            return {name: score if value is None else value}

    return NumpyAccuracy(experiment_id=name)


def test_evaluate_modules_are_accepted(tiny_pipeline, intents) -> None:
    module = _numpy_accuracy_module("numpy_accuracy")
    through_module = evaluate_accuracy(tiny_pipeline, intents, metric=module)
    built_in = evaluate_accuracy(tiny_pipeline, intents)
    assert through_module.value == built_in.value == pytest.approx(0.85)
    assert through_module.metric == module.name

    broken = _numpy_accuracy_module("nan_module", value=float("nan"))
    with pytest.raises(AccuracyError, match=r"metric '.*' is nan on all 300 examples"):
        evaluate_accuracy(tiny_pipeline, intents, metric=broken)


def test_tokenizer_without_padding_token(tiny_model, tokenizer, intents, base_predictions):
    """GPT-style tokenizers cannot pad: the pipeline runs unbatched, (model, tokenizer) says why."""
    import copy

    unpadded = copy.deepcopy(tokenizer)
    unpadded.pad_token = None
    pipe = pipeline("text-classification", model=tiny_model, tokenizer=unpadded)
    result = evaluate_accuracy(pipe, intents, limit=20)
    assert result.predictions == tuple(base_predictions[:20])
    with pytest.raises(AccuracyError, match="tokenizer has no padding token"):
        evaluate_accuracy((tiny_model, unpadded), intents)
