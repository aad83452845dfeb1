"""`ingest auto`'s format detection picks the right reader for every real file and fixture."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from paperfeed.sources import detect, files
from tests.conftest import FIXTURES, SEEDS
from tests.sources.realdata import REALDATA

# Folder of realdata / fixtures → the format its files are in.
REAL_KINDS = {
    "atom": "atom",
    "oai": "oai",
    "hf_daily": "hf-daily",
    "bibtex": "bibtex",
    "bibtex_in_readme": "bibtex",  # the README holds the authors' own @misc citation
    "kaggle": "kaggle",
}
FIXTURE_KINDS = {
    "arxiv/atom": "atom",
    "arxiv/oai": "oai",
    "bibtex": "bibtex",
    "csl": "csl-json",
    "ris": "ris",
    "openalex": "openalex",
    "semantic_scholar": "semantic-scholar",
    "hf": "hf-daily",
    "jsonl": "jsonl",
}


NOT_IMPORTS = {"github"}


def _cases() -> list[tuple[Path, str | None]]:
    cases = [
        (p, kind) for folder, kind in REAL_KINDS.items() for p in (REALDATA / folder).iterdir()
    ]
    for folder, kind in FIXTURE_KINDS.items():
        base, _, prefix = folder.partition("/")
        cases += [(p, kind) for p in (FIXTURES / base).glob(f"{prefix}*")]
    # An empty list and an API error body hold no records to tell a format by.
    unknowable = {"daily_papers_empty.json", "daily_papers_error.json"}
    cases = [(p, None if p.name in unknowable else kind) for p, kind in cases]
    return cases + [(SEEDS[0], "listing")]


@pytest.mark.parametrize("path,kind", _cases(), ids=lambda v: v.name if isinstance(v, Path) else v)
def test_every_real_file_and_fixture_gets_its_reader(path: Path, kind: str | None) -> None:
    assert detect.detect(path.read_bytes()[: detect.HEAD]) == kind


def test_the_cases_are_every_real_file_and_every_fixture_of_a_format() -> None:
    """No file escapes the test above: a new realdata folder or fixture must get a kind."""
    covered = {path for path, _ in _cases()}
    real = {p for p in REALDATA.rglob("*") if p.is_file() and p.name != "SOURCES.md"}
    # Fixtures that are no import format: migration patches for the db tests, and
    # recorded GitHub API answers (star counts), which no `ingest` verb reads.
    fixtures = {
        p
        for p in FIXTURES.rglob("*")
        if p.is_file() and p.suffix != ".patch" and p.parent.name not in NOT_IMPORTS
    }
    assert real - covered == set()
    assert fixtures - covered == set()


def test_gzip_is_detected_through_the_compression(tmp_path: Path) -> None:
    snapshot = next((REALDATA / "kaggle").glob("*.json"))
    packed = tmp_path / "snapshot.json.gz"
    packed.write_bytes(gzip.compress(snapshot.read_bytes()))
    with files.open_binary(packed) as handle:
        assert detect.detect(handle.read(detect.HEAD)) == "kaggle"
    assert files.display_name(packed) == "snapshot.json"


@pytest.mark.parametrize(
    "text", ["# paperfeed\n\nA README.\n", "", "just words", "<html><body>hi</body></html>"]
)
def test_what_is_no_known_format_is_none(text: str) -> None:
    assert detect.detect(text.encode()) is None
