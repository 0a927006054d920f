"""The optional sections of a campaign file as typed values, with the defaults a file may leave out.

The loader parses every section once (campaign/loader.py; [schedule], [selection] and [bulletins] in
campaign/bulletin_config.py, [projects] in campaign/projects.py) and puts them on the `Campaign`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal

# ---- [schedule], [selection], [bulletins] (issue #4) ----

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


@dataclass(frozen=True, slots=True)
class WeeklySlot:
    weekday: int  # 0 = Monday
    at: time

    @property
    def name(self) -> str:
        return WEEKDAYS[self.weekday]


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    weekly: WeeklySlot | None = WeeklySlot(0, time(9))  # in the week after the one it covers
    monthly_day: int | None = 5  # day of the following month
    monthly_at: time = time(9)
    final_days_after_end: int | None = 1
    final_at: time = time(9)
    reminders: tuple[WeeklySlot, ...] = (WeeklySlot(4, time(15)), WeeklySlot(6, time(20)))
    grace_hours: int = 24
    holiday_shift: bool = (
        True  # a reminder due on an official holiday moves to the previous workday
    )


@dataclass(frozen=True, slots=True)
class PickReasons:
    """[selection.reasons]: the Chinese reason each 红旗/蜗牛 unit rule gives (this project's reading
    of seed 002). Placeholders: {share} {rank} {total} {pp} {missed} {completion} {region}."""

    week_red: str = "本周增量占冲刺任务 {share}，{region}最高"
    week_snail_missing: str = "当周未报送"
    week_snail_smallest: str = "本周增量占冲刺任务 {share}，{region}最低"
    red_rank: str = "综合得分第{rank}名（{total}分）"
    snail_last: str = "综合得分末位（第{rank}名，{total}分）"
    snail_behind: str = "完成率落后序时目标 {pp} 个百分点"
    snail_missed: str = "本月 {missed} 次未报周报"
    final_red_rank: str = "最终排名第{rank}名（{total}分）"
    final_snail_last: str = "最终排名末位（第{rank}名，{total}分）"
    final_snail_behind: str = "攻坚任务完成率 {completion}，低于目标 {pp} 个百分点"


@dataclass(frozen=True, slots=True)
class SelectionConfig:
    metric: str  # the metric increments and 序时进度 are measured on (实际利用外资)
    red_flag_ranks: int = 1  # monthly 红旗: ranks 1..n
    snail_last: bool = True  # monthly 蜗牛: the last rank
    snail_behind_pp: Decimal | None = Decimal(20)  # … or more than this many points behind 序时进度
    snail_missed_reports: int | None = 2  # … or this many weekly reports missed in the month
    reasons: PickReasons = PickReasons()


@dataclass(frozen=True, slots=True)
class BulletinsConfig:
    sign_off: bool = False  # monthly and final bulletins go to the admins as a draft first
    chart: bool = True
    draft_conversation: str = ""  # where drafts go; empty: a short notice in the group
    quotes: int = 5  # 亮点/问题 quoted in a monthly bulletin, each
    leaders_publish: bool = False  # leaders (市长/副市长) may /发布 too, not only admins
    # Under sign-off, so a draft never waits unseen: the admins are reminded once when it is still
    # unpublished this long after it was drafted (None: only the notice at drafting) …
    remind_unpublished_after: timedelta | None = timedelta(hours=24)
    # … and it is published as it stands this long after drafting (None: only an admin publishes).
    auto_publish_after: timedelta | None = None


# ---- [projects]: the project ledger's amounts and rules (seeds 001, 002, 003) ----


@dataclass(frozen=True, slots=True)
class SnailRule:
    """[projects.snail]: 蜗牛项目, months past the contract's 开工/竣工 date (seed 003, 三、(二)3)."""

    start_grace_months: int = 6
    completion_grace_months: int = 6


@dataclass(frozen=True, slots=True)
class RedFlagRule:
    """[projects.red_flag]: which criteria propose a 红旗项目 (seed 002)."""

    ahead_of_contract: bool = True
    same_year: bool = True


@dataclass(frozen=True, slots=True)
class FirstTalkRule:
    """ "各地在谈总投资超亿美元和10亿元以上项目须及时报备…赋予首报地1个月的排他性首谈资格"."""

    min_totals: tuple[Decimal, ...] = ()  # any of these (in the projects unit) qualifies
    months: int = 1

    def qualifies(self, total: Decimal) -> bool:
        return any(total >= threshold for threshold in self.min_totals)


@dataclass(frozen=True, slots=True)
class ProjectSettings:
    """[projects]: the ledger's money unit and exchange rate, and its three rules' subtables."""

    unit: str = "万美元"  # the unit of 总投资 and 到资 in the ledger
    usd_cny: Decimal | None = None  # 元 per 美元, to compare 亿美元 and 亿元 thresholds
    first_talk: FirstTalkRule = FirstTalkRule()
    snail: SnailRule = SnailRule()
    red_flag: RedFlagRule = RedFlagRule()
    enabled: bool = False  # the campaign keeps a ledger ([projects] or a from_projects metric)
