"""The published record's domain (campaign/publication.py): snapshots round-trip exactly, the hash
tells versions apart, and the moments a bulletin speaks for are its month's end and after the window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from bot.config import SHIPPED_CAMPAIGN
from campaign import Figures, calendar, load_campaign
from campaign.publication import (
    content_hash,
    corrected_snapshot,
    decode_snapshot,
    encode_snapshot,
    keys_speaking_for,
    rescore,
    snapshot_of,
    standing_changes,
)

CAMPAIGN = load_campaign(SHIPPED_CAMPAIGN)
TZ = calendar.zone(CAMPAIGN)
UNITS = [u.name for u in CAMPAIGN.units]
METRICS = [m.id for m in CAMPAIGN.metrics]

amounts = st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False)
moments = st.datetimes(
    min_value=datetime(2021, 1, 1), max_value=datetime(2022, 12, 31), timezones=st.just(UTC)
)
figures = st.dictionaries(
    st.sampled_from(UNITS),
    st.builds(
        Figures,
        values=st.dictionaries(st.sampled_from(METRICS), amounts, min_size=1),
        reported=st.booleans(),
        reported_at=st.none() | moments,
    ),
)


@given(figures)
def test_a_snapshot_round_trips_exactly_and_encodes_one_way(snapshot: dict[str, Figures]) -> None:
    text = encode_snapshot(snapshot)
    assert decode_snapshot(text) == snapshot
    assert encode_snapshot(decode_snapshot(text)) == text


@given(st.text(), st.text(), st.text())
def test_the_hash_covers_the_text_and_the_figures_apart(a: str, b: str, c: str) -> None:
    assert (content_hash(a, b) == content_hash(a + c, b)) == (c == "")
    # text and figures are kept apart: moving a boundary changes the hash
    if b:
        assert content_hash(a, b) != content_hash(a + b[0], b[1:])


@given(moments)
def test_a_published_bulletin_speaks_for_its_months_end_and_the_final_for_after_the_window(
    at: datetime,
) -> None:
    keys = keys_speaking_for(CAMPAIGN, at)
    window_end = calendar.window_bounds(CAMPAIGN.window, TZ)[1]
    if at >= window_end:
        assert keys[0] == "final"
    elif keys:
        (key,) = keys
        month = key.removeprefix("monthly:")
        assert calendar.month_bounds(month, TZ)[1] == at


def test_the_month_ends_are_exactly_the_monthly_moments() -> None:
    end = calendar.month_bounds("2021-10", TZ)[1]
    assert keys_speaking_for(CAMPAIGN, end) == ("monthly:2021-10",)
    assert keys_speaking_for(CAMPAIGN, end - timedelta(microseconds=1)) == ()
    assert keys_speaking_for(CAMPAIGN, end + timedelta(microseconds=1)) == ()


@given(amounts)
def test_a_correction_changes_only_its_unit_and_rescoring_reproduces_the_standings(
    value: Decimal,
) -> None:
    at = calendar.month_bounds("2021-10", TZ)[1]
    base = {u.name: Figures(dict(u.baselines), reported=False) for u in CAMPAIGN.units}
    standings = rescore(CAMPAIGN, base, at)
    assert rescore(CAMPAIGN, snapshot_of(standings), at) == standings
    assert standing_changes(standings, standings) == []
    corrected = corrected_snapshot(base, "南湖区", {"fdi": value})
    assert {u: f for u, f in corrected.items() if u != "南湖区"} == {
        u: f for u, f in base.items() if u != "南湖区"
    }
    assert corrected["南湖区"].values["fdi"] == value
    changed = {c.unit for c in standing_changes(standings, rescore(CAMPAIGN, corrected, at))}
    assert changed <= set(UNITS)
