"""The community tests use the web tests' app, clients and keyword-only search."""

from tests.web.conftest import app, client, keyword_search_only, signed_in  # noqa: F401
