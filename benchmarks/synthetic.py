"""Realistic synthetic papers for benchmarks and large tests.

Titles and abstracts are recombined from the sentences and title phrases of
the real seed pages, so text length, vocabulary and punctuation look like the
real thing (and full-text/embedding costs are realistic), while every title is
unique. Deterministic for a given seed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator
from datetime import date, timedelta
from pathlib import Path

SHARED = Path(__file__).resolve().parents[2] / "shared"
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_ORGS = [
    ("facebook", "AI at Meta"),
    ("openbmb", "OpenBMB"),
    ("google", "Google"),
    ("nvidia", "NVIDIA"),
    ("allenai", "Ai2"),
    ("SunYatsen", "Sun Yat-Sen University"),
]
_HEADER = [
    "new",
    "Get trending papers in your email inbox!",
    "Subscribe",
    "Daily Papers",
    "byAK and the research community",
]


def _seed_corpus() -> list[dict]:
    with (SHARED / "eval" / "corpus.jsonl").open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


class Generator:
    """Makes papers whose text is stitched from real abstracts and titles."""

    def __init__(self, seed: int = 0) -> None:
        self.rng = random.Random(seed)
        corpus = _seed_corpus()
        self.sentences = [
            s.strip()
            for doc in corpus
            for s in re.split(r"(?<=[.!?])\s+", doc["abstract"])
            if 40 <= len(s.strip()) <= 400
        ]
        self.title_words = [w for doc in corpus for w in doc["title"].replace(":", " ").split()]
        self.heads = [doc["title"].split(":")[0] for doc in corpus if ":" in doc["title"]]

    def title(self, number: int) -> str:
        """A unique, plausible title (the number keeps it unique)."""
        words = self.rng.sample(self.title_words, self.rng.randint(5, 11))
        head = self.rng.choice(self.heads)
        return f"{head}-{number}: " + " ".join(words).capitalize()

    def abstract(self) -> str:
        return " ".join(self.rng.sample(self.sentences, self.rng.randint(5, 10)))

    def paper(self, number: int) -> dict:
        """One paper as a dict of the fields a listing card or JSONL line carries."""
        day = date(2025, 12, 11) - timedelta(days=self.rng.randint(0, 3 * 365))
        org = self.rng.choice(_ORGS) if self.rng.random() < 0.1 else None
        return {
            "title": self.title(number),
            "abstract": self.abstract(),
            "author_count": None if org else self.rng.randint(1, 30),
            "organization": org,
            "published_on": day,
            "upvotes": self.rng.choice([0, 0, 0, 1, 2, 5, 13, 40, 120]),
        }

    def papers(self, count: int) -> Iterator[dict]:
        for number in range(count):
            yield self.paper(number)


def listing_page(papers: list[dict], page_date: date = date(2025, 12, 11)) -> str:
    """Render papers as a plain-text Daily Papers listing page."""
    lines = _HEADER + [f"{_MONTHS[page_date.month - 1]} {page_date.day}"]
    for p in papers:
        lines += [p["title"], p["abstract"]]
        org = p["organization"]
        lines.append(f"{org[0]} {org[1]}" if org else f"  • {p['author_count']} authors")
        day: date = p["published_on"]
        when = f"{_MONTHS[day.month - 1]} {day.day}"
        if day.year != page_date.year or (day.month, day.day) > (page_date.month, page_date.day):
            when += f", {day.year}"
        lines += ["·", when + (f" {p['upvotes']}" if p["upvotes"] else "")]
    return "\n\n".join(lines) + "\n"


def jsonl_lines(papers: Iterable[dict]) -> Iterator[str]:
    """Render papers as plain JSONL lines (no provenance), one paper per line."""
    for p in papers:
        org = p["organization"]
        yield json.dumps(
            {
                "title": p["title"],
                "abstract": p["abstract"],
                "author_count": p["author_count"],
                "organization": org[1] if org else None,
                "published_on": p["published_on"].isoformat(),
                "upvotes": p["upvotes"],
            }
        )


def kaggle_lines(papers: Iterable[dict]) -> Iterator[str]:
    """Render papers as Kaggle arXiv-snapshot lines (the fields of the real dataset).

    Ids are unique new-style arXiv ids; authors come as the LaTeX string and as
    `authors_parsed`, as in the snapshot.
    """
    for number, p in enumerate(papers):
        arxiv_id = f"{2000 + number // 100_000:04d}.{number % 100_000:05d}"
        count = p["author_count"] or 1
        parsed = [[f"Author{n}", f"A. {chr(65 + n % 26)}.", ""] for n in range(min(count, 12))]
        day: date = p["published_on"]
        created = day.strftime("%a, %d %b %Y 12:00:00 GMT")
        yield json.dumps(
            {
                "id": arxiv_id,
                "submitter": parsed[0][1] + " " + parsed[0][0],
                "authors": ", ".join(f"{first} {last}" for last, first, _ in parsed),
                "title": p["title"],
                "comments": "12 pages",
                "journal-ref": None,
                "doi": None,
                "report-no": None,
                "categories": "cs.LG cs.CL",
                "license": "http://arxiv.org/licenses/nonexclusive-distrib/1.0/",
                "abstract": "  " + p["abstract"] + "\n",
                "versions": [{"version": "v1", "created": created}],
                "update_date": day.isoformat(),
                "authors_parsed": parsed,
            }
        )
