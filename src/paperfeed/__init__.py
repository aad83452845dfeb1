"""paperfeed: self-hosted research-paper discovery."""

__version__ = "0.1.0"
