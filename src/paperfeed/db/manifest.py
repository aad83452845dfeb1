"""The committed list of shipped migrations and their checksums (db/migrations/MANIFEST).

A shipped migration is never edited: databases record the checksum of every
migration they ran and refuse a file that no longer matches. The manifest is
how a change to a shipped file is caught in review rather than in production:
tests/db/test_migrations.py compares it with the files.

Adding a migration: write `NNNN_name.sql`, then run

    python -m paperfeed.db.manifest

which appends a line for every file not yet listed and never touches the
existing lines (it fails, naming the file, if a listed file changed). Two
branches that each add a line merge as two added lines; order does not matter.
"""

from __future__ import annotations

import sys
from pathlib import Path

from paperfeed.db import checksum, migrations

MANIFEST = Path(__file__).resolve().parent / "migrations" / "MANIFEST"


def line(name: str, sql: str) -> str:
    """The manifest line of one migration file."""
    return f"{name} {checksum(sql)}"


def read(path: Path = MANIFEST) -> dict[str, str]:
    """File name → checksum, as committed (comments and blank lines ignored)."""
    listed: dict[str, str] = {}
    if not path.exists():
        return listed
    for raw in path.read_text(encoding="utf-8").splitlines():
        text = raw.strip()
        if not text or text.startswith("#"):
            continue
        name, _, digest = text.partition(" ")
        listed[name] = digest.strip()
    return listed


def compare(path: Path = MANIFEST) -> tuple[list[str], list[str], list[str]]:
    """(lines to add, listed files that changed, listed files that are gone)."""
    listed = read(path)
    shipped = {name: sql for _, name, sql in migrations()}
    missing = [line(name, sql) for name, sql in shipped.items() if name not in listed]
    changed = [
        name for name, sql in shipped.items() if name in listed and listed[name] != checksum(sql)
    ]
    gone = [name for name in listed if name not in shipped]
    return missing, changed, gone


def main() -> int:
    """Append the missing lines; exit 1 when a listed migration changed or vanished."""
    missing, changed, gone = compare()
    for name in changed:
        print(
            f"{name} changed after it shipped: put the change in a new migration", file=sys.stderr
        )
    for name in gone:
        print(f"{name} is listed in {MANIFEST.name} but the file is gone", file=sys.stderr)
    if missing:
        with MANIFEST.open("a", encoding="utf-8") as fh:
            fh.write("".join(entry + "\n" for entry in missing))
        for entry in missing:
            print(f"added: {entry}")
    elif not (changed or gone):
        print("manifest is up to date")
    return 1 if changed or gone else 0


if __name__ == "__main__":
    sys.exit(main())
