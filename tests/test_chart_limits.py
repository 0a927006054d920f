"""The ranking chart of a large campaign: at most 30 bars, under DingTalk's 1 MiB, rendered in a
child process (the bot's event loop keeps answering meanwhile)."""

import asyncio
import struct
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest

from bulletins.chart import MAX_CHART_UNITS, chart_rows, render_chart
from campaign import Figures, Mode, Standing, Standings

AS_OF = datetime(2021, 10, 31, tzinfo=timezone(timedelta(hours=8)))
ONE_MIB = 1024 * 1024


def standings(units: int) -> Standings:
    rows = tuple(
        Standing(
            rank=i,
            entity=f"单位{i:04d}",
            total=Decimal(100) - Decimal(i) / 100,
            items={},
            measures={},
            points=None,
            figures=Figures(values={}),
        )
        for i in range(1, units + 1)
    )
    return Standings(AS_OF, Mode.INTERIM, Decimal("0.5"), units, rows)


@pytest.mark.parametrize(
    ("units", "ranks"),
    [
        (9, list(range(1, 10))),
        (30, list(range(1, 31))),
        (31, [*range(1, 28), 29, 30, 31]),
        (1000, [*range(1, 28), 998, 999, 1000]),
    ],
)
def test_the_chart_shows_the_top_and_the_last_three(units: int, ranks: list[int]) -> None:
    assert [row.rank for row in chart_rows(standings(units))] == ranks


async def test_a_thousand_unit_chart_is_small_and_leaves_the_loop_free() -> None:
    ticks: list[float] = []

    async def tick() -> None:
        while True:
            ticks.append(asyncio.get_running_loop().time())
            await asyncio.sleep(0.01)

    ticker = asyncio.create_task(tick())
    png = await render_chart("月月评 · 排名图", standings(1000))
    ticker.cancel()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) < ONE_MIB
    _, height = struct.unpack(">II", png[16:24])
    assert height < 110 * (0.5 * MAX_CHART_UNITS + 1.4) + 10  # 30 bars, not 1,000
    # The loop kept running while the child rendered: rendered in the loop, the ticker would
    # not have run before it was cancelled.
    assert len(ticks) >= 3
