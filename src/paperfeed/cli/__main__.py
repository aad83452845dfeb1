"""`python -m paperfeed.cli`: the same as the `paperfeed` command."""

from paperfeed.cli import main

main()
