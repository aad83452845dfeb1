"""The embedding models: offline loading, vector shape, row order, meaning, backend agreement."""

from __future__ import annotations

import json
import socket
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import numpy as np
import pytest

from paperfeed.index import embed
from tests.conftest import SHARED

CORPUS = [json.loads(line) for line in (SHARED / "eval" / "corpus.jsonl").open(encoding="utf-8")]


def _paper(title: str) -> str:
    doc = next(d for d in CORPUS if d["title"] == title)
    return embed.document_text(doc["title"], doc["abstract"])


LAYER_NORM = _paper("Layer Normalization")
DIFFUSION = _paper("On the Scalability of Diffusion-based Text-to-Image Generation")
# Connections each session fixture's model tried while loading (or exporting).
LOAD_ATTEMPTS: dict[str, list[object]] = {}
M = TypeVar("M", bound=embed.Embedder)


@contextmanager
def no_network() -> Iterator[list[object]]:
    """Make every socket connection fail, and list the addresses that were tried."""
    tried: list[object] = []

    def refuse(sock: socket.socket, address: object) -> None:
        tried.append(address)
        raise OSError("network blocked by the test")

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(socket.socket, "connect", refuse)
        mp.setattr(socket.socket, "connect_ex", refuse)
        yield tried


def _loaded_offline(key: str, model: M) -> M:
    """`model` after its first use (loading, and exporting if need be) with the network blocked."""
    with no_network() as LOAD_ATTEMPTS[key]:
        model.embed_query("warm up")
    return model


@pytest.fixture(scope="session")
def reference() -> embed.Embedder:
    """The sentence-transformers model."""
    return _loaded_offline("reference", embed.MiniLMEmbedder())


@pytest.fixture(scope="session")
def models_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("embed-models")


@pytest.fixture(scope="session")
def int8(models_dir: Path) -> embed.OnnxMiniLMEmbedder:
    """The ONNX int8 model, exported into a temporary directory."""
    return _loaded_offline("int8", embed.OnnxMiniLMEmbedder(models_dir))


@pytest.fixture(scope="session")
def fused(models_dir: Path) -> embed.FusedOnnxMiniLMEmbedder:
    """The fused ONNX int8 model, exported into a temporary directory."""
    return _loaded_offline("fused", embed.FusedOnnxMiniLMEmbedder(models_dir))


@pytest.fixture(params=["reference", "int8", "fused"])
def model(request: pytest.FixtureRequest) -> embed.Embedder:
    return request.getfixturevalue(request.param)


def test_document_text_is_title_then_abstract() -> None:
    assert embed.document_text("Layer Normalization", "We normalise.") == (
        "Layer Normalization. We normalise."
    )
    assert embed.document_text("Is attention all you need?", "No.") == (
        "Is attention all you need? No."
    )
    assert embed.document_text("  A  title\n", "") == "A title"
    assert embed.document_text("T", "word " * 5_000).startswith("T. word word")
    assert len(embed.document_text("T", "word " * 5_000)) == embed.DOC_CHAR_LIMIT


def test_models_load_and_export_with_the_network_blocked(reference, int8, fused) -> None:
    assert LOAD_ATTEMPTS == {"reference": [], "int8": [], "fused": []}
    # The block itself works, so the empty lists above mean something.
    with no_network() as tried, pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", 9), timeout=1)
    assert tried == [("127.0.0.1", 9)]


def test_vectors_are_float32_normalised_rows(model: embed.Embedder) -> None:
    vectors = model.embed_documents([LAYER_NORM, DIFFUSION, "a short title"])
    assert vectors.shape == (3, model.dim) == (3, 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    query = model.embed_query("layer normalization")
    assert query.shape == (384,)
    assert query.dtype == np.float32
    assert abs(float(np.linalg.norm(query)) - 1.0) < 1e-5
    assert model.embed_documents([]).shape == (0, 384)


def test_same_text_gives_the_same_vector_whatever_its_batch(model: embed.Embedder) -> None:
    alone = model.embed_query(LAYER_NORM)
    batched = model.embed_documents(["x", DIFFUSION, LAYER_NORM, "a b c"], batch_size=3)
    np.testing.assert_allclose(batched[2], alone, atol=1e-5)
    np.testing.assert_array_equal(model.embed_query(LAYER_NORM), alone)


def test_rows_come_back_in_input_order(model: embed.Embedder) -> None:
    # Mixed lengths in no particular order, so length-sorted batching reorders them.
    texts = ["graph neural networks", LAYER_NORM, "LoRA", DIFFUSION, "state space models"]
    batched = model.embed_documents(texts, batch_size=2)
    for row, text in zip(batched, texts, strict=True):
        np.testing.assert_allclose(row, model.embed_query(text), atol=1e-5)


def test_query_is_nearest_the_abstract_about_it(model: embed.Embedder) -> None:
    docs = model.embed_documents([LAYER_NORM, DIFFUSION])
    near_ln, near_diffusion = docs @ model.embed_query("layer normalization")
    assert near_ln > near_diffusion + 0.2
    near_ln, near_diffusion = docs @ model.embed_query("text-to-image diffusion models")
    assert near_diffusion > near_ln + 0.2


@pytest.fixture(params=["int8", "fused"])
def quantised(request: pytest.FixtureRequest) -> embed.OnnxMiniLMEmbedder:
    return request.getfixturevalue(request.param)


def test_int8_vectors_match_the_reference(
    reference: embed.Embedder, quantised: embed.Embedder
) -> None:
    texts = [embed.document_text(d["title"], d["abstract"]) for d in CORPUS[:24]]
    texts += [LAYER_NORM, DIFFUSION]
    ref, fast = reference.embed_documents(texts), quantised.embed_documents(texts)
    # Measured over the 243 seed papers: mean 0.993, min 0.990 (int8) and 0.989 (fused).
    assert float((ref * fast).sum(axis=1).min()) > 0.98
    queries = [
        "layer normalization",
        "text-to-image diffusion models",
        "low-bit weight quantization of large language models",
        "federated learning",
        "memorization",
        "reinforcement learning",
    ]
    top_ref = (reference.embed_documents(queries) @ ref.T).argmax(axis=1)
    top_fast = (quantised.embed_documents(queries) @ fast.T).argmax(axis=1)
    assert top_fast.tolist() == top_ref.tolist()


def test_export_is_cached_and_reused(
    quantised: embed.OnnxMiniLMEmbedder, models_dir: Path, monkeypatch
) -> None:
    path = models_dir / f"{quantised.name}.onnx"
    assert quantised.path == path
    assert path.is_file()
    # The int8 file is about a quarter of the float one (90 MB).
    assert path.stat().st_size < 30_000_000

    def export_again(path: Path) -> None:
        raise AssertionError("exported again although the file was cached")

    monkeypatch.setattr(embed, "export_int8", export_again)
    monkeypatch.setattr(embed, "export_int8_fused", export_again)
    again = type(quantised)(models_dir)
    np.testing.assert_array_equal(again.embed_query("cached"), quantised.embed_query("cached"))


def test_fused_model_runs_every_weight_matrix_in_int8(fused: embed.OnnxMiniLMEmbedder) -> None:
    import onnx

    ops = Counter(node.op_type for node in onnx.load(str(fused.path)).graph.node)
    # Six layers: Q/K/V inside QAttention; attention output and both
    # feed-forward matrices as MatMulInteger; no float MatMul or Attention left.
    assert ops["QAttention"] == 6
    assert ops["MatMulInteger"] == 18
    assert ops["MatMul"] == ops["Attention"] == ops["FusedMatMul"] == 0
    assert ops["SkipLayerNormalization"] == 12
    assert ops["BiasGelu"] == 6
    assert ops["QEmbedLayerNormalization"] == 1


def test_fused_model_masks_padding(fused: embed.OnnxMiniLMEmbedder) -> None:
    # embed_documents runs one text at a time, but the fusion rewrites the mask
    # into EmbedLayerNormalization's mask index, and a batch must still work.
    # A batch shares its int8 activation scales, hence cosine and not equality
    # (measured 0.990-0.994; a mask taken as all ones gives about 0).
    session, tokenizer = fused._load()
    short, long = (tokenizer.encode(t).ids for t in ("layer normalization", LAYER_NORM))
    ids = np.zeros((2, len(long)), dtype=np.int64)
    ids[0, : len(short)], ids[1] = short, long
    mask = (ids != 0).astype(np.int64)
    padded = session.run(None, {"input_ids": ids, "attention_mask": mask})[0][0]
    assert float(padded @ fused.embed_query("layer normalization")) > 0.98


def test_registry_names_models_and_returns_one_per_process(tmp_path: Path) -> None:
    assert embed.MODELS == (embed.MINILM, embed.MINILM_INT8, embed.MINILM_INT8_FUSED)
    assert len(set(embed.MODELS)) == 3
    assert embed.DEFAULT_MODEL in embed.MODELS
    assert embed.BULK_MODEL in embed.MODELS
    reference = embed.get_embedder("minilm-l6-v2", tmp_path)
    fast = embed.get_embedder("minilm-l6-v2-onnx-int8", str(tmp_path))
    assert (reference.name, fast.name) == ("minilm-l6-v2", "minilm-l6-v2-onnx-int8")
    assert isinstance(reference, embed.MiniLMEmbedder)
    assert isinstance(fast, embed.OnnxMiniLMEmbedder)
    assert fast.path == tmp_path.resolve() / "minilm-l6-v2-onnx-int8.onnx"
    assert embed.get_embedder("minilm-l6-v2-onnx-int8", tmp_path) is fast
    fused = embed.get_embedder("minilm-l6-v2-onnx-int8-fused", tmp_path)
    assert isinstance(fused, embed.FusedOnnxMiniLMEmbedder)
    assert fused.path == tmp_path.resolve() / "minilm-l6-v2-onnx-int8-fused.onnx"
    with pytest.raises(ValueError, match="unknown embedding model 'bert'.*minilm-l6-v2"):
        embed.get_embedder("bert", tmp_path)
