"""Key phrases and a one-line summary per paper, offline, with the loaded embedding model.

Hugging Face's own `ai_summary`/`ai_keywords` are kept when an import carried
them (catalogue/derive.py writes those rows, origin 'hf'). For every other
paper `summarise_pending` computes them in the embedding back-fill:

Key phrases (KeyBERT-style). Candidates are noun-phrase-like chunks: runs of
1–4 words between stop words, verbs and punctuation, that do not start or end
with an adjective-only word ("novel", "simple"); acronyms and hyphenated terms
are kept. Each candidate is embedded with the paper's own model and ranked by
cosine similarity to the paper's vector; the top PHRASES are chosen by maximal
marginal relevance (λ = 0.6) so that "graph neural network" and "graph neural
networks" do not both appear.

Summary (extractive). The abstract is split into sentences; each is scored by
similarity to the paper's vector. The rule that makes it a summary of the
*paper* rather than of its field: when the abstract states a method (a
sentence with a method cue: "we propose", "we introduce", "this paper
presents", "our method" …), the summary is the best-scoring method sentence;
otherwise the best-scoring sentence that is not background (cues: "recently",
"however", "has been", "remains a challenge" …), else the best sentence. So
the chosen sentence is never the opening background sentence of an abstract
that states a method (checked on the dev eval corpus by tests/community).

Cost (benchmarks/community.py, 30 dev abstracts): the network's runs are all
of it, so the back-fill makes few of them. Only the sentences that compete for
the summary are embedded, and none when one sentence is left (most abstracts
state their method once): 296 sentence runs became 57, the same summaries.
Candidates are embedded in runs of equal token length (`embed_short`): half
the CPU of one run each, at cosine >= 0.97 to the single-run vectors and the
same top-5 phrases 92% of the time. Batching the candidates of a whole
back-fill batch in one run saved 10% more but made a paper's phrases depend
on the papers batched with it; rejected. 140 CPU-ms a paper became 41.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from paperfeed.catalogue.derive import text_md5
from paperfeed.db import Database
from paperfeed.index.embed import document_text

PHRASES = 5
MAX_CANDIDATES = 24
MMR_LAMBDA = 0.6
MAX_SUMMARY = 300
BATCH = 32

_URL = re.compile(r"\S*(?:https?://|www\.|github\.com/|huggingface\.co/)\S*")
_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z(\[])")
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9\-]*[A-Za-z0-9]|[A-Za-z]|[,.;:()\[\]!?]")
STOP = frozenset(
    """a about above across after again against all almost also although always am among an and
    any are around as at be because been before being below between both but by can could did do
    does doing done down during each either even ever every few for from further had has have
    having he her here hers him his how however i if in into is it its itself just least less
    like many may me might more most much must my near neither no nor not now of off often on
    once one only onto or other others otherwise our ours out over own per rather same several
    she should since so some such than that the their them then there these they this those
    though through thus to too toward towards under until up upon us very via was we well were
    what when where whether which while who whom whose why will with within without would yet
    you your both first second third new based using use used uses show shows shown showing
    demonstrate demonstrates demonstrated propose proposes proposed present presents presented
    introduce introduces introduced achieve achieves achieved provide provides provided make
    makes made enable enables enabled improve improves improved allow allows allowed study
    studies studied find finds found obtain obtains obtained perform performs performed
    significantly substantially respectively existing recent recently furthermore moreover
    extensive experiments results paper work approach method methods task tasks model models
    outperforms outperform state-of-the-art art various different particular specific
    given large small high low better best strong effective efficient simple novel key main
    important including include includes leading leads lead remain remains remained requires
    require required exceeds exceed construct constructs preserve preserves called call aiming
    aims aim tackle mitigate creates create created need needs needed apply applies applied
    consider considers considered suggest suggests suggested reveal reveals revealed""".split()  # noqa: SIM905
)
METHOD_CUES = re.compile(
    r"\b(we|this (paper|work|study)|our (method|approach|framework|model|system))\s+"
    r"(\w+\s+)?(propose|present|introduce|develop|design|describe|build|construct|formulate|"
    r"devise|offer|put forward|leverage|train|release|study|investigate|analy[sz]e|show)"
    r"|\b(propose|introduce|present)s?\s+(a|an|the)\b|\bwe call\b|\bdubbed\b|\bnamed\b",
    re.IGNORECASE,
)
BACKGROUND_CUES = re.compile(
    r"^(recent(ly)?|in recent years|however|despite|although|while|traditional(ly)?|"
    r"existing|current|conventional|prior|previous)\b|\b(has|have) (been|become|shown|"
    r"attracted|achieved|emerged|gained|demonstrated)\b|\bremains? (a |an )?"
    r"(challenge|challenging|open|difficult|unclear)|\bis (a|an) (fundamental|important|"
    r"key|critical|challenging)\b",
    re.IGNORECASE,
)


class Embedder(Protocol):
    name: str

    def embed_documents(self, texts: list[str]) -> np.ndarray: ...


def _embed_short(embedder: Embedder, texts: list[str]) -> np.ndarray:
    """Vectors of short texts: the embedder's batched path when it has one."""
    embed = getattr(embedder, "embed_short", None) or embedder.embed_documents
    return np.asarray(embed(texts), dtype=np.float32)


@dataclass(frozen=True)
class Digest:
    """The one-line summary and key phrases of one paper."""

    summary: str
    phrases: list[str]


def sentences(abstract: str) -> list[str]:
    """The abstract's sentences (a period before a capital letter ends one)."""
    text = " ".join((abstract or "").split())
    return [s.strip() for s in _SENTENCE.split(text) if len(s.strip()) > 20]


def states_method(sentence: str) -> bool:
    return METHOD_CUES.search(sentence) is not None


def is_background(sentence: str) -> bool:
    return BACKGROUND_CUES.search(sentence) is not None and not states_method(sentence)


def candidates(text: str) -> list[str]:
    """Noun-phrase-like chunks of a text, most frequent first (at most MAX_CANDIDATES)."""
    counts: dict[str, int] = {}
    spelled: dict[str, str] = {}
    run: list[str] = []

    def flush() -> None:
        while run and run[0].lower() in STOP:
            run.pop(0)
        while run and run[-1].lower() in STOP:
            run.pop()
        for size in range(min(4, len(run)), 0, -1):
            for start in range(len(run) - size + 1):
                words = run[start : start + size]
                if words[0].lower() in STOP or words[-1].lower() in STOP:
                    continue
                if size == 1 and (len(words[0]) < 4 or words[0].islower() and len(words[0]) < 6):
                    continue  # single common words say little; acronyms stay
                key = " ".join(w.lower() for w in words)
                counts[key] = counts.get(key, 0) + 1
                spelled.setdefault(key, " ".join(words))
        run.clear()

    for token in _TOKEN.findall(_URL.sub(" . ", text)):
        # Stop words, punctuation and -ing/-ed verb forms end a chunk.
        lowered = token.lower()
        verb = token.islower() and len(token) > 5 and lowered.endswith(("ing", "ed"))
        if not token[0].isalpha() or lowered in STOP or verb:
            flush()
            continue
        run.append(token)
    flush()
    ranked = sorted(counts, key=lambda k: (-counts[k] * (1 + k.count(" ")), k))
    return [spelled[k] for k in ranked[:MAX_CANDIDATES]]


def _mmr(doc: np.ndarray, vectors: np.ndarray, k: int) -> list[int]:
    relevance = vectors @ doc
    chosen: list[int] = []
    left = list(range(len(vectors)))
    while left and len(chosen) < k:
        if chosen:
            redundancy = (vectors[left] @ vectors[chosen].T).max(axis=1)
        else:
            redundancy = np.zeros(len(left))
        score = MMR_LAMBDA * relevance[left] - (1 - MMR_LAMBDA) * redundancy
        best = left[int(np.argmax(score))]
        chosen.append(best)
        left.remove(best)
    return chosen


def summary_pool(parts: list[str]) -> list[int]:
    """The sentences the summary is chosen from: the method sentences, else those that
    are not background, else all (the rule in the module docstring)."""
    method = [i for i, s in enumerate(parts) if states_method(s)]
    plain = [i for i, s in enumerate(parts) if not is_background(s)]
    return method or plain or list(range(len(parts)))


def choose_summary(parts: list[str], similarity: np.ndarray) -> int:
    """The index of the summary sentence: the pool's most similar to the paper."""
    return max(summary_pool(parts), key=lambda i: (float(similarity[i]), -i))


def digest(embedder: Embedder, title: str, abstract: str, doc: np.ndarray | None = None) -> Digest:
    """Key phrases and the summary sentence of one paper (`doc`: its vector, if known)."""
    parts = sentences(abstract)
    found = candidates(f"{title}. {abstract}")
    pool = summary_pool(parts) if parts else []
    # Only the pool competes, and a pool of one needs no vector at all.
    scored = pool if len(pool) > 1 else []
    texts = [document_text(title, abstract)] if doc is None and (scored or found) else []
    texts += [parts[i] for i in scored]
    vectors = np.asarray(embedder.embed_documents(texts), dtype=np.float32) if texts else None
    if doc is None and vectors is not None:
        doc, vectors = vectors[0], vectors[1:]
    summary = ""
    if pool:
        choice = pool[0]
        if scored:
            doc = doc / (np.linalg.norm(doc) or 1.0)
            similarity = np.zeros(len(parts), dtype=np.float32)
            similarity[scored] = vectors @ doc
            choice = choose_summary(parts, similarity)
        summary = parts[choice]
        if len(summary) > MAX_SUMMARY:
            summary = summary[: MAX_SUMMARY - 1].rsplit(" ", 1)[0] + "…"
    phrases: list[str] = []
    if found:
        doc = doc / (np.linalg.norm(doc) or 1.0)
        phrases = [found[i] for i in _mmr(doc, _embed_short(embedder, found), PHRASES)]
    return Digest(summary, phrases)


def summarise_pending(
    db: Database,
    embedder: Embedder,
    *,
    batch: int = BATCH,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Compute phrases and a summary for every paper that has neither; return how many."""
    done = 0
    while True:
        with db.transaction() as conn:
            # The queue (0012) holds every paper without a summary; a queued paper
            # that got one meanwhile (Hugging Face's, from an import) is only dropped.
            queued = conn.execute(
                "SELECT q.paper_id,"
                " EXISTS (SELECT 1 FROM paper_summaries s WHERE s.paper_id = q.paper_id) AS has"
                " FROM summary_queue q ORDER BY q.paper_id LIMIT %s FOR UPDATE SKIP LOCKED",
                (batch,),
            ).fetchall()
            if not queued:
                return done
            conn.execute(
                "DELETE FROM summary_queue WHERE paper_id = ANY(%s)",
                ([r["paper_id"] for r in queued],),
            )
            rows = conn.execute(
                "SELECT p.id, p.title, p.abstract, p.embedding, p.embedding_model FROM papers p"
                " WHERE p.id = ANY(%s) ORDER BY p.id",
                ([r["paper_id"] for r in queued if not r["has"]],),
            ).fetchall()
            out = []
            for r in rows:
                vec = None
                if r["embedding"] is not None and r["embedding_model"] == embedder.name:
                    vec = np.asarray(r["embedding"].to_numpy(), dtype=np.float32)
                d = digest(embedder, r["title"], r["abstract"], vec)
                out.append((r["id"], d.summary, d.phrases, embedder.name,
                            text_md5(r["title"], r["abstract"])))  # fmt: skip
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO paper_summaries (paper_id, summary, key_phrases, origin, model,"
                    " text_md5) VALUES (%s, %s, %s, 'computed', %s, %s)"
                    " ON CONFLICT (paper_id) DO NOTHING",
                    out,
                )
        done += len(rows)
        if progress:
            progress(len(rows))


def count_pending(db: Database) -> int:
    """Papers without key phrases and a summary: read from the queue, not the catalogue."""
    with db.connection() as conn:
        return conn.execute(
            "SELECT count(*) AS n FROM summary_queue q"
            " WHERE NOT EXISTS (SELECT 1 FROM paper_summaries s WHERE s.paper_id = q.paper_id)"
        ).fetchone()["n"]
