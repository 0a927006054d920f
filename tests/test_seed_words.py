"""Officials' own words (issue #22): every metric phrase and unit name the seed notices use is read
as what it means, through the real pipeline. The tables say where each phrase stands in the seeds.
"""

import pytest

from bot.app import App
from campaign import load_campaign
from campaign.model import name_key
from tests.conftest import ADMIN, Say

FDI_2021 = load_campaign("campaigns/fdi-2021.toml")
ZHAODA_2024 = load_campaign("campaigns/zhaoda-2024.toml")

# (seed, phrase as the seed writes it in simplified characters, the 2021 metric it reads as)
SEED_METRICS_2021 = [
    ("000 一", "实际利用外资", "fdi"),
    ("000 四(一)", "实到外资总量", "fdi"),
    ("000 四(二)", "实到外资", "fdi"),
    ("002", "利用外资", "fdi"),
    ("national statistics", "实际使用外资", "fdi"),
    ("000 一", "高技术产业实际利用外资", "hightech"),
    ("000 四(三)", "高技术产业利用外资", "hightech"),
    ("000 四(三)", "高技术产业实到外资", "hightech"),
    ("000 四(四)", "招大引强项目到资", "bigproject"),
    ("000 四(四)", "超亿美元项目到资金额", "bigproject"),
    ("000 四(四)", "总投资超亿美元项目到资金额", "bigproject"),
    ("000 附件", "超亿美元项目已累计到资金额", "bigproject"),
    ("issue #22", "超亿美元项目到资", "bigproject"),
]

# 2024 (seed 001 二、(二)): the project counts come from the ledger, never posted.
SEED_METRICS_2024 = [
    ("001 二(二)", "实际利用外资", "fdi"),
    ("national statistics", "实际使用外资", "fdi"),
    ("001 二(二)", "世界500强投资项目", "world500"),
    ("001 (四)4", "世界500强", "world500"),
    ("001 二(二)", "总投资超亿美元项目", "usd100m"),
    ("002", "超亿美元产业项目", "usd100m"),
    ("001 二(二)", "总投资10亿元以上项目", "cny1b"),
    ("001 二(二)", "50亿元以上项目", "cny5b"),
    ("001 三(一)1", "50亿元以上重大产业项目", "cny5b"),
    ("001 二(二)", "100亿元以上项目", "cny10b"),
]

# Every unit as the seeds name it: full names in each bracket style, and without the bracket.
SEED_UNITS = [
    ("000 二", "嘉兴经济技术开发区（国际商务区）", "嘉兴经济技术开发区（国际商务区）"),
    ("000 二", "嘉兴经济技术开发区(国际商务区)", "嘉兴经济技术开发区（国际商务区）"),
    ("001 三(一)1", "嘉兴经济技术开发区", "嘉兴经济技术开发区（国际商务区）"),
    ("001 三(一)1", "浙江乍浦经济开发区〔嘉兴港区〕", "嘉兴港区"),
    ("001 three", "浙江乍浦经济开发区（嘉兴港区）", "嘉兴港区"),
    ("001 three", "浙江乍浦经济开发区(嘉兴港区)", "嘉兴港区"),
    ("001 three", "浙江乍浦经济开发区", "嘉兴港区"),
    ("000 附件", "嘉兴港区", "嘉兴港区"),
    ("000 附件", "南湖区", "南湖区"),
    ("000 附件", "秀洲区", "秀洲区"),
    ("000 附件", "嘉善县", "嘉善县"),
    ("000 附件", "平湖市", "平湖市"),
    ("000 附件", "海盐县", "海盐县"),
    ("000 附件", "海宁市", "海宁市"),
    ("000 附件", "桐乡市", "桐乡市"),
]


@pytest.mark.parametrize(("seed", "phrase", "metric"), SEED_METRICS_2021)
def test_every_2021_metric_phrase_of_the_seeds_names_its_metric(
    seed: str, phrase: str, metric: str
) -> None:
    found = FDI_2021.find_metric(phrase)
    assert found is not None and found.id == metric, (seed, phrase)


@pytest.mark.parametrize(("seed", "phrase", "metric"), SEED_METRICS_2024)
def test_every_2024_metric_phrase_of_the_seeds_names_its_metric(
    seed: str, phrase: str, metric: str
) -> None:
    found = ZHAODA_2024.find_metric(phrase)
    assert found is not None and found.id == metric, (seed, phrase)


@pytest.mark.parametrize(("seed", "phrase", "metric"), SEED_METRICS_2021)
async def test_a_post_in_the_seeds_words_is_stored_under_its_metric(
    app: App, say: Say, seed: str, phrase: str, metric: str
) -> None:
    # bigproject's cumulative stays under 南湖区's 超亿美元项目 total investment (303,820)
    value = {"fdi": "25000", "hightech": "11000", "bigproject": "40000"}[metric]
    reply = await say("head-nanhu", f"/周报 {phrase}={value}")
    assert reply is not None and "已收到报送 · 南湖区" in reply.text, (seed, reply)
    async with app.database.read(app.campaign.id) as repos:
        [version] = await repos.reports.history("南湖区")
    assert version.posted == {metric: int(value)}, (seed, phrase)


@pytest.mark.parametrize(("seed", "phrase", "metric"), SEED_METRICS_2024[2:])
async def test_a_2024_count_in_the_seeds_words_is_answered_as_a_ledger_count(
    say: Say, seed: str, phrase: str, metric: str
) -> None:
    switched = await say(ADMIN, "/赛事 zhaoda-2024", at="2024-05-10T09:00:00+08:00")
    assert switched is not None and "已切换为：2024年招大引强" in switched.text
    reply = await say(ADMIN, f"/周报 南湖区 {phrase}=3", at="2024-05-10T10:00:00+08:00")
    label = ZHAODA_2024.metric(metric).label
    assert reply is not None and f"“{label}”由项目台账自动统计" in reply.text, (seed, reply)


@pytest.mark.parametrize(("seed", "written", "unit"), SEED_UNITS)
def test_every_unit_name_of_the_seeds_is_found_in_both_campaigns(
    seed: str, written: str, unit: str
) -> None:
    for campaign in (FDI_2021, ZHAODA_2024):
        found = campaign.find_unit(written)
        assert found is not None and found.name == unit, (seed, written, campaign.id)


COMMANDS = [
    "/周报 {name} 实际利用外资=33000",
    "/进度 {name}",
    "/差距 {name}",
    "/历史 {name}",
    "/绑定 someone {name}",
    "/项目 登记 {name} 名称=测试项目 总投资=3.2亿美元 外资=是 合同开工=2021-12-01 合同竣工=2022-06-30",
]


@pytest.mark.parametrize("template", COMMANDS)
@pytest.mark.parametrize(("seed", "written", "unit"), SEED_UNITS[:7])
async def test_every_command_reads_a_unit_written_as_the_seeds_write_it(
    say: Say, template: str, seed: str, written: str, unit: str
) -> None:
    reply = await say(ADMIN, template.format(name=written))
    assert reply is not None, (seed, template)
    assert "未知单位" not in reply.text, (seed, written, reply.text)
    assert unit in reply.text, (seed, written, reply.text)


async def test_an_unknown_name_is_quoted_whole_with_the_accepted_names(say: Say) -> None:
    reply = await say(ADMIN, "/周报 嘉兴经济开发区（国际商务区） 实际利用外资=33000")
    assert reply is not None
    assert "未知单位“嘉兴经济开发区（国际商务区）”" in reply.text
    assert "嘉兴经济技术开发区（国际商务区）" in reply.text  # among the accepted names
    reply = await say(ADMIN, "/进度 嘉兴经济开发区")
    assert reply is not None and "未知单位“嘉兴经济开发区”" in reply.text


async def test_a_unit_note_in_brackets_is_not_taken_for_part_of_a_name(app: App, say: Say) -> None:
    reply = await say("head-nanhu", "/周报 实际利用外资（万美元）=25000")
    assert reply is not None and "实际利用外资：25,000万美元" in reply.text


def test_name_keys_fold_bracket_styles_and_spaces() -> None:
    assert name_key("浙江乍浦经济开发区〔嘉兴港区〕") == name_key("浙江乍浦经济开发区 (嘉兴港区)")
    assert name_key("嘉兴经济技术开发区【国际商务区】") == "嘉兴经济技术开发区（国际商务区）"
