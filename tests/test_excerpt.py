"""A long ranking in one group message: the top 10, the asker's unit with its neighbours, the last 3."""

import pytest

from campaign.excerpt import excerpt

_ = None


@pytest.mark.parametrize(
    ("length", "mine", "shown"),
    [
        (9, 4, [1, 2, 3, 4, 5, 6, 7, 8, 9]),
        (30, None, list(range(1, 31))),
        (31, None, [*range(1, 11), _, 29, 30, 31]),
        (40, 19, [*range(1, 11), _, 19, 20, 21, _, 38, 39, 40]),
        (40, 10, [*range(1, 13), _, 38, 39, 40]),  # the 11th and its neighbours join the top
        (40, 0, [*range(1, 11), _, 38, 39, 40]),
        (40, 36, [*range(1, 11), _, 36, 37, 38, 39, 40]),  # the 37th: its lower one is 38th
        (1000, 499, [*range(1, 11), _, 499, 500, 501, _, 998, 999, 1000]),
    ],
)
def test_a_long_ranking_shows_the_top_the_askers_unit_and_the_last(
    length: int, mine: int | None, shown: list[int | None]
) -> None:
    assert excerpt(list(range(1, length + 1)), mine) == shown
