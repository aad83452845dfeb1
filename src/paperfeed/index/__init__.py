"""The index: what makes the catalogue searchable, and search itself.

- `embed`: the sentence-embedding models (one interface, several runtimes).
- `backfill`: gives every paper a vector of the configured model, in the background.
- `lexical`: the keyword side (query parsing, BM25-style ranking in PostgreSQL).
- `search`: hybrid search (keyword + semantic, fused) and similar papers.
- `hits`: results as pages show them (fields, upvotes, safe highlighted snippets).

It reads the catalogue and writes only the derived columns it owns
(`papers.embedding`, term statistics); it never imports ranking or delivery.
"""
