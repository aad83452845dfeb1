"""The real Kaggle arXiv snapshot lines in ../shared/realdata (issue 13, defect 9)."""

from __future__ import annotations

import gzip
import json
from datetime import date
from pathlib import Path

from paperfeed.sources import jsonl, kaggle
from tests.sources.realdata import by_key, files, split

SNAPSHOT = files("kaggle", "*.json")[0]


def test_every_line_is_accepted_with_its_date_and_clean_authors() -> None:
    good, bad = split(kaggle.read(SNAPSHOT))
    lines = [line for line in SNAPSHOT.read_bytes().split(b"\n") if line.strip()]
    assert (len(good), len(bad), len(lines)) == (200, 0, 200)
    assert all(r.paper.published_on for r in good)
    assert all("\\" not in a for r in good for a in r.paper.authors)
    first = by_key(good)["0704.0001"].paper
    assert first.published_on == date(2007, 4, 2)  # versions[0].created, Mon, 2 Apr 2007
    assert first.authors[0] == "C. Balázs"  # authors_parsed, not the LaTeX "Bal\'azs"
    assert first.doi == "10.1103/physrevd.76.013009"
    assert first.categories == ("hep-ph",)
    assert by_key(good)["0704.0002"].paper.categories == ("math.CO", "cs.CG")


def test_et_al_is_dropped() -> None:
    good = by_key(split(kaggle.read(SNAPSHOT))[0])
    assert good["0704.0020"].paper.authors == ("The BABAR Collaboration", "B. Aubert")
    assert good["0704.0171"].paper.authors == ("F. Aharonian",)


def test_the_jsonl_verb_reads_snapshot_lines_the_same_way() -> None:
    via_jsonl, bad = split(jsonl.read(SNAPSHOT))
    assert bad == [] and len(via_jsonl) == 200
    assert {r.source for r in via_jsonl} == {"kaggle"}
    direct = by_key(split(kaggle.read(SNAPSHOT))[0])
    assert all(r.paper == direct[r.external_key].paper for r in via_jsonl)


def test_gzipped_snapshot_streams_the_same(tmp_path: Path) -> None:
    packed = tmp_path / "snapshot.json.gz"
    packed.write_bytes(gzip.compress(SNAPSHOT.read_bytes()))
    assert [r.paper for r in split(kaggle.read(packed))[0]] == [
        r.paper for r in split(kaggle.read(SNAPSHOT))[0]
    ]


def test_bad_lines_cost_only_themselves() -> None:
    lines = SNAPSHOT.read_bytes().split(b"\n")[:3]
    broken = json.loads(lines[1])
    broken["versions"] = [{"version": "v1", "created": "not a date"}]
    data = b"\n".join([lines[0], json.dumps(broken).encode(), b"{oops", lines[2]])
    good, bad = split(kaggle.parse(data, "s.json"))
    assert len(good) == 2
    assert [b.position for b in bad] == ["s.json: line 2", "s.json: line 3"]
    assert "versions[0].created" in bad[0].reason
