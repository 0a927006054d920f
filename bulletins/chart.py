"""The ranking chart: horizontal bars with the units' Chinese names, rendered to PNG server-side.

Needs a CJK font on the machine (.ci/run installs Debian's fonts-wqy-microhei); without one there
is no chart, and the bulletin goes out complete without it. The bot renders it in a child process
(`render_chart`, which runs this module): matplotlib would hold the event loop for seconds.
"""

from __future__ import annotations

import asyncio
import io
import json
import sys
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from campaign import Standing, Standings

MAX_CHART_UNITS = 30  # a taller chart is unreadable on a phone, and nears DingTalk's 1 MiB limit
CHART_TAIL = 3  # the last units always show, as in the bulletin text
NO_FONT_EXIT = 3
PROJECT_ROOT = Path(__file__).resolve().parents[1]  # where `-m bulletins.chart` is found

FONT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".fonts")
FONT_FILES = (
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "NotoSansCJK-Regular.ttc",
    "NotoSansSC-Regular.otf",
    "SourceHanSansSC-Regular.otf",
)


class NoCjkFont(RuntimeError):
    """No installed font covers the text; install fonts-wqy-microhei (see README)."""


def has_glyphs(font_path: Path, text: str) -> bool:
    from matplotlib.ft2font import FT2Font

    font = FT2Font(str(font_path))
    return all(font.get_char_index(ord(ch)) != 0 for ch in set(text) if not ch.isspace())


def find_cjk_font(sample: str, dirs: Iterable[Path] = FONT_DIRS) -> Path:
    """The first known CJK font file under `dirs` that has a glyph for every character of `sample`."""
    for name in FONT_FILES:
        for base in dirs:
            if not base.is_dir():
                continue
            for path in sorted(base.rglob(name)):
                if has_glyphs(path, sample):
                    return path
    raise NoCjkFont(f"no CJK font with glyphs for {sample[:20]!r} under {[str(d) for d in dirs]}")


def chart_rows(standings: Standings) -> Sequence[Standing]:
    """At most MAX_CHART_UNITS bars: the top of the table and its last CHART_TAIL units."""
    rows = standings.rows
    if len(rows) <= MAX_CHART_UNITS:
        return rows
    return (*rows[: MAX_CHART_UNITS - CHART_TAIL], *rows[-CHART_TAIL:])


def ranking_chart(title: str, standings: Standings, font_path: Path | None = None) -> bytes:
    """PNG bytes: one bar per unit (at most MAX_CHART_UNITS), best at the top, with its total."""
    bars = [(row.rank, row.entity, row.total) for row in chart_rows(standings)]
    return _render(title, bars, font_path)


async def render_chart(title: str, standings: Standings) -> bytes:
    """ranking_chart in a child process, so the bot's event loop never runs matplotlib."""
    bars = [[row.rank, row.entity, str(row.total)] for row in chart_rows(standings)]
    child = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bulletins.chart",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=PROJECT_ROOT,
    )
    request = json.dumps({"title": title, "bars": bars}, ensure_ascii=False).encode()
    png, error = await child.communicate(request)
    if child.returncode == NO_FONT_EXIT:
        raise NoCjkFont(error.decode(errors="replace").strip())
    if child.returncode != 0:
        raise RuntimeError(f"chart process failed ({child.returncode}): {error.decode()[-500:]}")
    return png


def _render(title: str, bars: Sequence[tuple[int, str, Decimal]], font_path: Path | None) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.font_manager import FontProperties

    names = [entity for _, entity, _ in bars]
    labels = [f"{rank}. {entity}" for rank, entity, _ in bars]
    sample = title + "".join(labels) + "0123456789.分"
    font = FontProperties(fname=str(font_path or find_cjk_font(sample)))
    totals = [float(total.quantize(Decimal("0.01"))) for _, _, total in bars]

    figure = Figure(figsize=(7.2, 0.5 * len(names) + 1.4), dpi=110)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    positions = list(range(len(names)))[::-1]
    axes.barh(
        positions,
        totals,
        color="#d9363e" if len(names) == 1 else ["#d9363e", *["#4a7bd0"] * (len(names) - 1)],
    )
    axes.set_yticks(positions, labels, fontproperties=font)
    axes.set_xlim(0, max([*totals, 1.0]) * 1.15)
    for y, total in zip(positions, totals, strict=True):
        axes.text(total, y, f" {total:.2f}分", va="center", fontproperties=font)
    axes.set_title(title, fontproperties=font)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def _main(request: dict[str, Any]) -> int:
    bars = [(int(rank), str(entity), Decimal(total)) for rank, entity, total in request["bars"]]
    try:
        png = _render(str(request["title"]), bars, None)
    except NoCjkFont as error:
        print(error, file=sys.stderr)
        return NO_FONT_EXIT
    sys.stdout.buffer.write(png)
    return 0


if __name__ == "__main__":
    sys.exit(_main(json.load(sys.stdin)))
