"""Server-side SVG bar charts for the dashboard (no JavaScript, nothing fetched)."""

from __future__ import annotations

from markupsafe import Markup, escape

ROW = 28
LABEL_W = 180
BAR_W = 220


def bar_chart(rows: list[tuple[str, float]], title: str = "") -> Markup:
    """Return an SVG of horizontal bars, one per (label, share 0..1), labelled in percent."""
    height = ROW * max(1, len(rows)) + 8
    width = LABEL_W + BAR_W + 60
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMinYMin meet" aria-label="{escape(title)}">'
    ]
    for i, (label, share) in enumerate(rows):
        share = max(0.0, min(1.0, float(share)))
        y = 4 + i * ROW
        text = escape(label if len(label) <= 28 else label[:27] + "…")
        parts.append(
            f'<text x="0" y="{y + 18}" class="chart-label">{text}</text>'
            f'<rect x="{LABEL_W}" y="{y + 4}" width="{BAR_W}" height="18" class="chart-track"/>'
            f'<rect x="{LABEL_W}" y="{y + 4}" width="{round(BAR_W * share, 1)}" height="18" '
            f'class="chart-bar"/>'
            f'<text x="{LABEL_W + BAR_W + 6}" y="{y + 18}" class="chart-value">'
            f"{round(share * 100)}%</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every interpolated text is escaped above


def course_title(course, lang: str) -> str:  # a reports.CourseCompletion
    """Return a course's title in ``lang``, falling back to the other language and the key."""
    first = course.title_km if lang == "km" else course.title_en
    return first or course.title_en or course.title_km or course.course_key


def courses_rows(courses: list, lang: str) -> list[tuple[str, float]]:
    """Return (title, completion) rows of a list of course completions for ``bar_chart``."""
    return [(course_title(c, lang), c.completion) for c in courses]
