"""Ranking: which papers to show, in what order, and why.

- `lists`: daily / weekly / monthly lists, trending, organisations, one paper.
- `taste`: the for-you taste model (pure numpy).
- `recommend`: the for-you feed over the taste model, with a reason per pick.
- `topics`: the topic map (clusters with labels, placed on a 2-D map).
- `topic_trends`: reading the map: points, papers and votes per week, rising topics.

It reads the catalogue and the index, and writes only what it derives (user
profiles, the topic map); it never imports delivery, web or the CLI.
"""
