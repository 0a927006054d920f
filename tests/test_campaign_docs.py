"""docs/campaign-file.md is the loader's schema rendered; its two examples load; `check` summarises."""

import tomllib
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest

from bot.campaign_check import DOCS, EXAMPLES, check_summary, reference_text
from bot.config import SHIPPED_CAMPAIGN
from campaign import load_campaign
from campaign.schema import schema


def test_the_key_reference_is_generated_from_the_loaders_schema() -> None:
    # Fails when campaign/schema.py or an example changed without `make docs`.
    assert DOCS.read_text(encoding="utf-8") == reference_text()


def test_both_examples_load_and_the_full_one_sets_every_key() -> None:
    minimal = load_campaign(EXAMPLES / "minimal.toml")
    assert (len(minimal.units), len(minimal.metrics)) == (3, 2)
    full_path = EXAMPLES / "full.toml"
    load_campaign(full_path)
    data = tomllib.loads(full_path.read_text(encoding="utf-8"))
    missing = []
    for table in schema():
        rows = data[table.name] if table.array else [data[table.name]]
        for key in table.keys:
            present = [row[key.name] for row in rows if key.name in row]
            if not present:
                missing.append(f"{table.name}.{key.name}")
            for inner in key.keys:
                values = [
                    v for value in present for v in (value if isinstance(value, list) else [value])
                ]
                if not any(inner.name in value for value in values):
                    missing.append(f"{table.name}.{key.name}.{inner.name}")
    assert missing == []


def test_check_summarises_units_metrics_rules_schedule_and_baseline_standings() -> None:
    path = EXAMPLES / "minimal.toml"
    text = check_summary(load_campaign(path), Path("minimal.toml"))
    assert text.splitlines()[:3] == [
        "minimal.toml: 有效 · demo-2025 · 2025年招商引资季度赛",
        "期间 2025-04-01 … 2025-06-30（Asia/Shanghai，91天） · 区域 全市 · 基数称“基数”",
        "",
    ]
    for line in (
        "- fdi 实际利用外资（万美元，报送）",
        "- 南湖新区（又称南湖）：目标 实际利用外资3,000万美元、签约项目数4个",
        "评分规则 2，共 100 分：",
        "- fdi 实际利用外资完成率 70分：实际利用外资完成率，100%满分，80%起按比例",
        "- signed 签约项目完成率 30分：签约项目数完成率，100%满分，0%起按比例",
        "最终赋分：3 / 2 / 1",
        "推送：周周比 周一 09:00；月月评 每月5日 09:00；最终结果 结束后第1天 09:00；"
        "催报 周五 15:00、周日 20:00",
        "发布：月月评、最终结果到时直接推送（不经审核）",
        "项目台账：无（不显示项目栏目）",
        "按基数计算（此后无人报送）的最终排名：",
    ):
        assert line in text.splitlines()
    assert len(text.splitlines()) < 40  # one screen


H = timedelta(hours=1)
SIGNED = "发布：月月评、最终结果先生成草稿通知管理员，/发布 后推送；"


@pytest.mark.parametrize(
    ("remind", "auto", "line"),
    [
        (24 * H, None, SIGNED + "24小时后仍未发布再提醒一次；不自动发布（只由管理员 /发布）"),
        (24 * H, 48 * H, SIGNED + "24小时后仍未发布再提醒一次；48小时后仍未发布则自动发布"),
        (
            90 * H / 60,
            7 * 24 * H,
            SIGNED + "1小时30分钟后仍未发布再提醒一次；7天后仍未发布则自动发布",
        ),
        (None, 36 * H, SIGNED + "不再提醒；36小时后仍未发布则自动发布"),
        (48 * H, 24 * H, SIGNED + "不再提醒（自动发布在先）；24小时后仍未发布则自动发布"),
    ],
)
def test_check_shows_when_drafts_are_reminded_and_auto_published(
    remind: timedelta | None, auto: timedelta | None, line: str
) -> None:
    shipped = load_campaign(SHIPPED_CAMPAIGN)
    bulletins = replace(shipped.bulletins, remind_unpublished_after=remind, auto_publish_after=auto)
    text = check_summary(replace(shipped, bulletins=bulletins), SHIPPED_CAMPAIGN)
    assert line in text.splitlines()
