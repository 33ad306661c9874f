"""Jinja filters and the inline SVG charts of the dashboard (no script, no outside request).

Every label in a chart is escaped here: chart labels are task types, model names and categories that
came from logs, and an SVG is markup like the rest of the page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from jinja2 import Environment
from markupsafe import Markup, escape

#: One colour per run category and per claim status, used by badges and charts alike.
COLOURS = {"accepted": "#2e7d32", "partially_accepted": "#f9a825", "rejected": "#c62828",
           "needs_human_review": "#1565c0", "unscored": "#9e9e9e",
           "verified": "#2e7d32", "partial": "#f9a825", "missing": "#c62828", "unverifiable": "#9e9e9e"}


def epoch(value: float | None) -> str:
    if value is None:
        return ""
    return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M")


def when(value: datetime | str | None) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def pct(value: float | None, digits: int = 1) -> str:
    return "" if value is None else f"{value * 100:.{digits}f}%"


def money(value: float | None) -> str:
    return "" if value is None else f"${value:.5f}"


def ms(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f} ms"


def pretty(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2, default=str).decode()


def heat(value: float | None) -> str:
    """A background colour for a 0..1 value: red (0) through yellow to green (1); grey when unknown."""
    if value is None:
        return "#eeeeee"
    v = min(max(value, 0.0), 1.0)
    hue = int(v * 120)  # 0 = red, 120 = green
    return f"hsl({hue}, 65%, {78 - int(v * 18)}%)"


def bar_chart(items: list[tuple[str, int | float]], width: int = 420, bar: int = 18) -> Markup:
    """Horizontal bars, one per (label, value), coloured by category when the label is one."""
    if not items:
        return Markup('<p class="muted">nothing to chart yet</p>')
    top = max(v for _, v in items) or 1
    label_w, value_w = 180, 60
    span = width - label_w - value_w
    height = len(items) * (bar + 6) + 4
    parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for i, (label, value) in enumerate(items):
        y = 2 + i * (bar + 6)
        w = max(1, int(span * value / top)) if value else 0
        colour = COLOURS.get(str(label), "#5c6bc0")
        short = str(label) if len(str(label)) <= 28 else str(label)[:27] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + bar - 5}" text-anchor="end">{escape(short)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w}" height="{bar}" fill="{colour}"><title>'
                     f'{escape(label)}: {value}</title></rect>'
                     f'<text x="{label_w + w + 4}" y="{y + bar - 5}">{value:,}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def stacked_columns(columns: list[tuple[str, dict[str, int]]], keys: tuple[str, ...], height: int = 140,
                    col: int = 52) -> Markup:
    """One stacked column per (label, {key: count}), oldest left: e.g. claims by status per snapshot."""
    if not columns:
        return Markup('<p class="muted">nothing to chart yet</p>')
    top = max(sum(c.get(k, 0) for k in keys) for _, c in columns) or 1
    width = len(columns) * (col + 10) + 10
    plot = height - 20
    parts = [f'<svg class="chart" role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">']
    for i, (label, counts) in enumerate(columns):
        x = 10 + i * (col + 10)
        y = plot
        for key in keys:
            n = counts.get(key, 0)
            h = int(plot * n / top)
            if h:
                y -= h
                parts.append(f'<rect x="{x}" y="{y}" width="{col}" height="{h}" fill="{COLOURS.get(key, "#5c6bc0")}">'
                             f"<title>{escape(label)}: {n} {escape(key)}</title></rect>")
        parts.append(f'<text x="{x + col / 2}" y="{height - 6}" text-anchor="middle">{escape(label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def install(env: Environment) -> None:
    env.filters.update(epoch=epoch, when=when, pct=pct, money=money, ms=ms, pretty=pretty, heat=heat)
    env.globals.update(bar_chart=bar_chart, stacked_columns=stacked_columns, colours=COLOURS)
