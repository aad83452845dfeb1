"""arXiv: the Atom search API and the OAI-PMH bulk harvest (`arXiv` and `arXivRaw` formats).

The parsers are pure (`atom.parse_atom`, `oai.parse_oai`: bytes in, items out);
`client.ArxivClient` adds the network: polite rate limiting, retries on 503 +
Retry-After, and paging (Atom `start`/`totalResults`, OAI-PMH `resumptionToken`).
Both APIs describe the same arXiv record, so both use the source name "arxiv"
and the bare arXiv id as key: a search hit and a harvested record of one paper
are one sighting.

Documentation: https://info.arxiv.org/help/api/user-manual.html and
https://info.arxiv.org/help/oa/index.html (OAI-PMH, 3 s between requests).
"""

from paperfeed.sources.arxiv.atom import AtomPage, parse_atom
from paperfeed.sources.arxiv.client import API_URL, OAI_URL, ArxivClient
from paperfeed.sources.arxiv.common import SOURCE
from paperfeed.sources.arxiv.oai import OaiPage, parse_oai

__all__ = [
    "API_URL",
    "OAI_URL",
    "SOURCE",
    "ArxivClient",
    "AtomPage",
    "OaiPage",
    "parse_atom",
    "parse_oai",
]
