"""Parser speed, without the database: the targets that used to be timed tests.

    python benchmarks/parse_speed.py [--papers 10000] [--rounds 3]

- JSONL: parse a paperfeed export of N papers (two sightings each). The import
  target is 5,000 papers/s end to end (benchmarks/ingest.py), so parsing alone
  must go well beyond it and leave the database most of the time.
- BibTeX: one entry with a 10 MB abstract, and one with a 10 MB title of LaTeX
  accents. Both must take seconds, not minutes (a quadratic path would).

Prints the best of --rounds for each row, with its target and whether it is met.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from paperfeed.model import Paper  # noqa: E402
from paperfeed.sources import bibtex, jsonl  # noqa: E402

PAPER = Paper(
    title="Dense Retrieval for Low-Resource Languages",
    abstract="We study dense retrieval. " * 40,
    arxiv_id="2401.00001",
    authors=("Adébáyọ̀ Ọlárewájú", "Aroha Ngata"),
    author_count=2,
    organization="University of Auckland NLP",
    published_on=date(2024, 1, 10),
    listed_on=date(2024, 1, 11),
    upvotes=42,
    categories=("cs.IR", "cs.CL"),
)
SIGHTINGS = [
    {
        "source": s,
        "external_key": "k",
        "first_seen": datetime(2024, 1, 10, tzinfo=UTC),
        "last_seen": datetime(2024, 1, 12, tzinfo=UTC),
        "upvotes": 0,
        "raw": {"n": 1},
    }
    for s in ("arxiv", "hf_daily")
]


def best_of(rounds: int, work) -> float:
    """The fastest of `rounds` runs of work(), in seconds (the least disturbed by load)."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--papers", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    lines = [
        jsonl.dump_paper(Paper(**{**PAPER.__dict__, "arxiv_id": f"2401.{n:05d}"}), n, SIGHTINGS)
        for n in range(1, args.papers + 1)
    ]
    export = "\n".join(lines).encode()
    big_abstract = f"@article{{big, title = {{Big}}, abstract = {{{'word ' * 2_000_000}}}}}"
    big_latex = "@article{big, title = {" + r"\'e " * 2_500_000 + "}}"

    def parse_all(data: bytes | str, parse) -> None:
        for _ in parse(data, "bench"):
            pass

    rows = []
    s = best_of(args.rounds, lambda: parse_all(export, jsonl.parse))
    rate = args.papers / s
    rows.append(
        (
            f"JSONL export, {args.papers:,} papers",
            f"{rate:,.0f} papers/s",
            ">= 5,000 papers/s",
            rate >= 5_000,
        )
    )
    for label, data in (
        ("BibTeX, 10 MB abstract", big_abstract),
        ("BibTeX, 10 MB LaTeX title", big_latex),
    ):
        s = best_of(args.rounds, lambda data=data: parse_all(data.encode(), bibtex.parse))
        rows.append((label, f"{s:.2f} s", "< 15 s", s < 15))

    width = max(len(r[0]) for r in rows)
    print(f"{'case':<{width}}  {'measured':>16}  {'target':>18}  met")
    for label, measured, target, met in rows:
        print(f"{label:<{width}}  {measured:>16}  {target:>18}  {'yes' if met else 'NO'}")


if __name__ == "__main__":
    main()
