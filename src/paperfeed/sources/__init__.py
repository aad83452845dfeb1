"""Sources: each module turns bytes (or a live API) into `Record`s and `BadRecord`s.

- `arxiv`    — the arXiv Atom search API and the OAI-PMH bulk harvest (arXiv, arXivRaw);
- `hf_daily` — Hugging Face's daily papers JSON (`/api/daily_papers`);
- `bibtex`   — .bib files;
- `jsonl`    — paperfeed's own export format (both directions), and plain JSON lines;
- `listing`  — saved HTML listing pages;
- `kaggle`   — the Kaggle arXiv metadata snapshot (JSON Lines, streamed);
- `csl_json`, `ris` — reference-manager exports (Zotero, Mendeley, EndNote);
- `openalex`, `semantic_scholar` — those services' work/paper JSON;
- `detect`   — which of the above a file is (`ingest auto`); `files` reads any of
  them plain or gzipped; `jsonfields` and `text` hold what several share.

A source never imports the database; `model.checked()` validates what it yields.
"""


class SourceUnavailable(Exception):
    """A live source could not be reached or kept failing; nothing was read from it."""
