"""The topic map (an SVG of papers coloured by topic) and each topic's trend chart.

Both pictures are drawn on the server as SVG: hover shows a paper's title
(an SVG <title>), a click opens the paper. No script and nothing from a CDN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import APIRouter, Depends, Query, Request

from paperfeed.app import Paperfeed
from paperfeed.ranking import lists, topic_trends, topics
from paperfeed.web.deps import NAV_LINKS, current_user, get_pf, render, voted_ids
from paperfeed.web.errors import NotFound
from paperfeed.web.schemas import API_ERRORS

router = APIRouter()
NAV_LINKS.append(("Topics", "/topics", "topics"))
MAP_W, MAP_H, PAD = 900, 560, 24
CHART_W, CHART_H, CHART_PAD = 860, 260, 40
COLOURS = 12
PER_PAGE = 50


@dataclass(frozen=True)
class Dot:
    paper_id: int
    cx: float
    cy: float
    colour: int
    title: str


def _layout(points: list[topic_trends.Point], topic_ids: list[int]) -> tuple[list[Dot], dict]:
    """Scale map coordinates into the picture; place each label at its topic's points' centre."""
    if not points:
        return [], {}
    xs, ys = [p.x for p in points], [p.y for p in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(ys), max(ys)
    sx = (MAP_W - 2 * PAD) / ((x1 - x0) or 1)
    sy = (MAP_H - 2 * PAD) / ((y1 - y0) or 1)
    colour = {t: i % COLOURS for i, t in enumerate(topic_ids)}
    dots = [
        Dot(
            p.paper_id,
            round(PAD + (p.x - x0) * sx, 1),
            round(MAP_H - PAD - (p.y - y0) * sy, 1),
            colour.get(p.topic_id, 0),
            p.title,
        )
        for p in points
    ]
    centres: dict[int, list[float]] = {}
    for p, d in zip(points, dots, strict=True):
        c = centres.setdefault(p.topic_id, [0.0, 0.0, 0])
        c[0], c[1], c[2] = c[0] + d.cx, c[1] + d.cy, c[2] + 1
    placed = {}
    for t, c in centres.items():
        x, y = c[0] / c[2], c[1] / c[2]
        # Labels near an edge grow inwards so that they are not cut off.
        anchor = "start" if x < MAP_W * 0.3 else "end" if x > MAP_W * 0.7 else "middle"
        placed[t] = (round(x, 1), round(y, 1), anchor)
    return dots, placed


@router.get("/topics", include_in_schema=False)
def topic_map(request: Request, pf: Paperfeed = Depends(get_pf)):
    with pf.db.transaction() as conn:
        topic_list = topics.list_topics(conn)
        points = topic_trends.points(conn, 3_000)
        rising = topic_trends.rising(conn)
    ids = [t.id for t in sorted(topic_list, key=lambda t: t.id)]
    dots, centres = _layout(points, ids)
    colours = {t: i % COLOURS for i, t in enumerate(ids)}
    return render(
        request,
        "topics/index.html",
        {
            "nav": "topics",
            "topics": topic_list,
            "dots": dots,
            "centres": centres,
            "colours": colours,
            "rising": rising,
            "width": MAP_W,
            "height": MAP_H,
        },
    )


def _chart(weeks: list[topic_trends.Week]) -> dict:
    """Bar geometry for papers per week and a polyline for votes per week."""
    if not weeks:
        return {"bars": [], "line": "", "ticks": []}
    inner_w, inner_h = CHART_W - 2 * CHART_PAD, CHART_H - 2 * CHART_PAD
    step = inner_w / len(weeks)
    top_papers = max(max(w.papers for w in weeks), 1)
    top_votes = max(max(w.votes for w in weeks), 1)
    bars, line = [], []
    for i, w in enumerate(weeks):
        h = inner_h * w.papers / top_papers
        x = CHART_PAD + i * step
        bars.append(
            {
                "x": round(x + 1, 1),
                "y": round(CHART_H - CHART_PAD - h, 1),
                "w": round(max(step - 2, 1), 1),
                "h": round(h, 1),
                "week": w,
            }
        )
        vy = CHART_H - CHART_PAD - inner_h * w.votes / top_votes
        line.append(f"{x + step / 2:.1f},{vy:.1f}")
    ticks = [
        {"x": b["x"], "label": b["week"].start.strftime("%b %-d")}
        for b in bars[:: max(1, len(bars) // 6)]
    ]
    # The y axes: papers on the left, votes on the right, at 0, half and the top.
    levels = [
        {
            "y": round(CHART_H - CHART_PAD - inner_h * f, 1),
            "papers": _tick_value(top_papers * f),
            "votes": _tick_value(top_votes * f),
        }
        for f in (0, 0.5, 1)
    ]
    return {
        "bars": bars,
        "line": " ".join(line),
        "ticks": ticks,
        "levels": levels,
        "top_papers": top_papers,
        "top_votes": top_votes,
    }


def _tick_value(value: float) -> str:
    return f"{value:.0f}" if value >= 10 or value == int(value) else f"{value:.1f}"


@router.get("/topics/{topic_id}", include_in_schema=False)
def topic_page(
    request: Request,
    topic_id: int,
    weeks: int = Query(26, ge=4, le=156),
    page: int = Query(1, ge=1, le=1000),
    pf: Paperfeed = Depends(get_pf),
    user=Depends(current_user),
):
    with pf.db.transaction() as conn:
        topic = topics.get_topic(conn, topic_id)
        if topic is None:
            raise NotFound("No such topic.")
        series = topic_trends.weekly(conn, topic_id, weeks)
        papers, total = lists.topic_papers(
            conn, topic_id, limit=PER_PAGE, offset=(page - 1) * PER_PAGE
        )
        voted = voted_ids(conn, user, papers)
    return render(
        request,
        "topics/topic.html",
        {
            "nav": "topics",
            "topic": topic,
            "chart": _chart(series),
            "series": series,
            "width": CHART_W,
            "height": CHART_H,
            "pad": CHART_PAD,
            "papers": papers,
            "total": total,
            "page": page,
            "pages": max(1, math.ceil(total / PER_PAGE)),
            "voted": voted,
            "weeks": weeks,
        },
    )


@router.get("/api/topics", responses=API_ERRORS)
def api_topics(pf: Paperfeed = Depends(get_pf)) -> dict:
    """The topic map's topics (label, top terms, size) and the rising ones."""
    with pf.db.transaction() as conn:
        topic_list = topics.list_topics(conn)
        rising = topic_trends.rising(conn)
    return {
        "topics": [
            {"id": t.id, "label": t.label, "terms": t.terms, "papers": t.papers} for t in topic_list
        ],
        "rising": [
            {"id": r.topic_id, "label": r.label, "recent": r.recent, "growth": round(r.growth, 2)}
            for r in rising
        ],
    }
