"""The ranking chart: horizontal bars with the units' Chinese names, rendered to PNG server-side.

Needs a CJK font on the machine (.ci/run installs Debian's fonts-wqy-microhei); without one there
is no chart, and the bulletin goes out complete without it.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from decimal import Decimal
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.ft2font import FT2Font

from campaign import Standings

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


def ranking_chart(title: str, standings: Standings, font_path: Path | None = None) -> bytes:
    """PNG bytes: one bar per unit, best at the top, labelled with its total score."""
    names = [row.entity for row in standings.rows]
    labels = [f"{row.rank}. {row.entity}" for row in standings.rows]
    sample = title + "".join(labels) + "0123456789.分"
    font = FontProperties(fname=str(font_path or find_cjk_font(sample)))
    totals = [float(row.total.quantize(Decimal("0.01"))) for row in standings.rows]

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
