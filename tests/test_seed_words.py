"""Officials' own words (issue #22): every metric phrase and unit name the seed notices use is read
as what it means, through the real pipeline. The tables say where each phrase stands in the seeds
(000 the 2021 百日攻坚 notice, 001 the 2024 招大引强 scheme, 002 a 2020 news article, 003 the 2020
双进双产 scheme; 004, another city's report, names none of our metrics or units).
"""

import pytest

from bot.app import App
from bot.report_import import problem_text
from bot.sandbox import identity
from campaign import load_campaign
from campaign.model import name_key
from campaign.report_import import ImportRefused, read_columns
from campaign.targets import parse_targets_csv
from tests.conftest import ADMIN, Say

FDI_2021 = load_campaign("campaigns/fdi-2021.toml")
ZHAODA_2024 = load_campaign("campaigns/zhaoda-2024.toml")

# (seed and section, phrase as the seed writes it in simplified characters, the metric it reads as)
SEED_METRICS_2021 = [
    ("000 一; 002; 003 二(一)", "实际利用外资", "fdi"),
    ("000 四(一)", "实到外资总量", "fdi"),
    ("000 四(一)", "累计实到外资总量", "fdi"),
    ("000 四(二)", "实到外资", "fdi"),
    ("000 四(二)", "累计实到外资", "fdi"),
    ("002", "利用外资", "fdi"),
    ("national statistics (issue #22)", "实际使用外资", "fdi"),
    ("000 一; 000 附件", "高技术产业实际利用外资", "hightech"),
    ("000 四(三)", "高技术产业利用外资", "hightech"),
    ("000 四(三)", "高技术产业实到外资", "hightech"),
    ("000 四(四)", "招大引强项目到资", "bigproject"),
    ("000 四(四)", "总投资超亿美元项目到资金额", "bigproject"),
    ("000 四(四)", "累计到资金额", "bigproject"),
    ("000 四(四)", "到资金额", "bigproject"),
    ("000 附件", "已累计到资金额", "bigproject"),
    ("000 一 (its 到资率 as an amount)", "总投资超亿美元项目到资", "bigproject"),
    ("issue #22", "超亿美元项目到资金额", "bigproject"),
    ("issue #22", "超亿美元项目到资", "bigproject"),
]

# A note on how the figure is counted, written after the name, is read past in a post.
SEED_NOTED_2021 = [
    ("000 一", "实际利用外资（部口径）", "fdi"),
    ("002; 003 二(一)", "实际利用外资(商务部口径)", "fdi"),
]

# The notices also name the ratios the rules compute from those amounts; a post gives the amount,
# so a ratio is answered with the metric to post instead of 未知字段.
SEED_RATIOS_2021 = [
    ("000 一", "高技术产业实际利用外资占比", "hightech"),
    ("000 附件", "高技术产业实际利用外资占比（%）", "hightech"),
    ("000 四(三)", "高技术产业利用外资占比", "hightech"),
    ("000 四(三)", "高技术产业实到外资占比", "hightech"),
    ("000 一", "总投资超亿美元项目到资率", "bigproject"),
    ("000 四(四)", "总投资超亿美元项目到资金额比例", "bigproject"),
]

# 2024 (seed 001 一(二)): fdi is posted; the project counts come from the ledger, never posted.
SEED_METRICS_2024 = [
    ("001 一(二)", "实际利用外资", "fdi"),
    ("000 四(一)", "实到外资总量", "fdi"),
    ("000 四(二)", "累计实到外资", "fdi"),
    ("002", "利用外资", "fdi"),
    ("national statistics (issue #22)", "实际使用外资", "fdi"),
    ("001 一(二)", "世界500强投资项目", "world500"),
    ("001 二(二)4; 003 二(二)", "世界500强", "world500"),
    ("001 一(二); 003 二(二)", "总投资超亿美元项目", "usd100m"),
    ("002", "总投资(增资)超亿美元产业项目", "usd100m"),
    ("002", "总投资（增资）超亿美元产业项目", "usd100m"),
    ("002", "超亿美元产业项目", "usd100m"),
    ("002", "超亿美元项目", "usd100m"),
    ("002", "超亿美元项目数", "usd100m"),
    ("001 一(二)", "总投资10亿元以上项目", "cny1b"),
    ("001 二(一)3; 003 三(三)1", "10亿元以上项目", "cny1b"),
    ("001 一(二); 003 三(三)1", "50亿元以上项目", "cny5b"),
    ("001 二(一)1", "50亿元以上重大产业项目", "cny5b"),
    ("001 一(二)", "100亿元以上项目", "cny10b"),
    ("003 二(二)", "百亿级重大产业项目", "cny10b"),
    ("001 一(二), full-width digits", "世界５００强投资项目", "world500"),
    ("001 一(二), full-width digits", "总投资１０亿元以上项目", "cny1b"),
]
COUNTS_2024 = [row for row in SEED_METRICS_2024 if ZHAODA_2024.metric(row[2]).is_computed]

# Phrases of the seeds that name something else: refused with a reason, never stored as a figure.
NOT_A_METRIC_2021 = [
    ("004 一1", "实际利用省外资金", "未知字段“实际利用省外资金”"),  # domestic capital
    ("000 附件", "已到资比例", "未知字段“已到资比例”"),
    ("000 四(二)", "实到外资超额贡献", "未知字段“实到外资超额贡献”"),  # a rule: scored
]
NOT_A_METRIC_2024 = [
    ("001 二(二)4", "中国500强", "未知字段“中国500强”"),
    ("003 二(二)", "50亿元～100亿元项目", "无法识别“50亿元～100亿元项目=3”"),  # a range
    ("003 二(二)", "亿元以上产业项目", "未知字段“亿元以上产业项目”"),
    ("004 一2", "新签约亿元以上项目", "未知字段“新签约亿元以上项目”"),
]


def other_writing(phrase: str) -> str:
    """The phrase in the other bracket style, digits full-width (世界５００强)."""
    swapped = phrase.translate(str.maketrans("（）()", "()（）"))
    return swapped.translate(str.maketrans("0123456789", "０１２３４５６７８９"))


def written_otherwise(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The rows whose phrase has brackets or digits, written the other way."""
    return [(s, other_writing(p), m) for s, p, m in rows if other_writing(p) != p]


# Every unit as the seeds name it: full names in each bracket style, without the bracketed part,
# and the short forms the seeds use.
SEED_UNITS = [
    ("000 二", "嘉兴经济技术开发区（国际商务区）", "嘉兴经济技术开发区（国际商务区）"),
    ("000 二", "嘉兴经济技术开发区(国际商务区)", "嘉兴经济技术开发区（国际商务区）"),
    ("001 二(一)1", "嘉兴经济技术开发区", "嘉兴经济技术开发区（国际商务区）"),
    ("001 二(一)1", "浙江乍浦经济开发区〔嘉兴港区〕", "嘉兴港区"),
    ("001 二(一)1", "浙江乍浦经济开发区（嘉兴港区）", "嘉兴港区"),
    ("001 二(一)1", "浙江乍浦经济开发区(嘉兴港区)", "嘉兴港区"),
    ("001 二(一)1", "浙江乍浦经济开发区", "嘉兴港区"),
    ("002", "嘉兴经开区", "嘉兴经济技术开发区（国际商务区）"),
    ("000 二", "嘉兴港区", "嘉兴港区"),
    ("000 附件", "南湖区", "南湖区"),
    ("000 附件", "秀洲区", "秀洲区"),
    ("000 附件", "嘉善县", "嘉善县"),
    ("000 附件", "平湖市", "平湖市"),
    ("000 附件", "海盐县", "海盐县"),
    ("000 附件", "海宁市", "海宁市"),
    ("000 附件", "桐乡市", "桐乡市"),
]
WRITTEN_APART = [row for row in SEED_UNITS if row[1] != row[2]]


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


@pytest.mark.parametrize(("seed", "phrase", "metric"), SEED_METRICS_2021 + SEED_NOTED_2021)
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


@pytest.mark.parametrize(("seed", "phrase", "metric"), SEED_METRICS_2021[:6])
async def test_a_numbered_post_in_the_seeds_words_reads_amounts_in_wan_and_yi(
    app: App, say: Say, seed: str, phrase: str, metric: str
) -> None:
    post = f"/周报 南湖区\n1、{phrase}：2亿5000万\n2、高技术=1.1亿\n3、招大引强项目到资 4亿"
    reply = await say(ADMIN, post)
    assert reply is not None and "已收到报送 · 南湖区" in reply.text, (seed, reply)
    async with app.database.read(app.campaign.id) as repos:
        [version] = await repos.reports.history("南湖区")
    assert version.posted == {"fdi": 25000, "hightech": 11000, "bigproject": 40000}, seed


@pytest.mark.parametrize(("seed", "phrase", "metric"), SEED_RATIOS_2021)
async def test_a_ratio_in_the_seeds_words_asks_for_the_amount_it_comes_from(
    say: Say, seed: str, phrase: str, metric: str
) -> None:
    reply = await say("head-nanhu", f"/周报 {phrase}=45")
    label = FDI_2021.metric(metric).label
    assert reply is not None, seed
    quoted = phrase.removesuffix("（%）")  # the column's unit note is not part of the name
    assert f"“{quoted}”是比例，由报送的金额算出；请报送{label}（万美元）" in reply.text, seed


async def test_a_2024_fdi_post_in_the_seeds_words_is_stored(app: App, say: Say) -> None:
    switched = await say(ADMIN, "/赛事 zhaoda-2024", at="2024-05-10T09:00:00+08:00")
    assert switched is not None and "已切换为：2024年招大引强" in switched.text
    for at, phrase in zip(
        ("05-10", "05-17", "05-24"), ("实到外资总量", "累计实到外资", "实际使用外资"), strict=True
    ):
        reply = await say(ADMIN, f"/周报 南湖区 {phrase}=1.2亿", at=f"2024-{at}T10:00:00+08:00")
        assert reply is not None and "实际利用外资：12,000万美元" in reply.text, (phrase, reply)


@pytest.mark.parametrize(("seed", "phrase", "metric"), COUNTS_2024)
async def test_a_2024_count_in_the_seeds_words_is_answered_as_a_ledger_count(
    say: Say, seed: str, phrase: str, metric: str
) -> None:
    switched = await say(ADMIN, "/赛事 zhaoda-2024", at="2024-05-10T09:00:00+08:00")
    assert switched is not None and "已切换为：2024年招大引强" in switched.text
    reply = await say(ADMIN, f"/周报 南湖区 {phrase}=3", at="2024-05-10T10:00:00+08:00")
    label = ZHAODA_2024.metric(metric).label
    assert reply is not None and f"“{label}”由项目台账自动统计" in reply.text, (seed, reply)


def test_a_targets_csv_headed_in_the_seeds_words_reads_every_count() -> None:
    """Counts are typed where targets are imported (saima campaign import-targets)."""
    phrases = {}
    for _, phrase, metric in SEED_METRICS_2024:
        phrases.setdefault(metric, phrase)  # one column per metric
    header = ",".join(["单位", *phrases.values()])
    rows = [",".join([unit.name, *["1"] * len(phrases)]) for unit in ZHAODA_2024.units]
    targets = parse_targets_csv("\n".join([header, *rows]), ZHAODA_2024)
    assert set(targets["南湖区"]) == set(phrases)


def test_a_reports_import_headed_in_the_seeds_words_reads_every_posted_metric() -> None:
    header = ["单位", "报送时间", "实到外资总量", "高技术产业实际利用外资", "超亿美元项目到资金额"]
    columns = read_columns(FDI_2021, header)
    assert [metric.id for _, metric in columns.metrics] == ["fdi", "hightech", "bigproject"]


@pytest.mark.parametrize(("seed", "written", "unit"), SEED_UNITS)
def test_every_unit_name_of_the_seeds_is_found_in_both_campaigns(
    seed: str, written: str, unit: str
) -> None:
    for campaign in (FDI_2021, ZHAODA_2024):
        found = campaign.find_unit(written)
        assert found is not None and found.name == unit, (seed, written, campaign.id)


# (command, what its reply says once it has read the unit)
COMMANDS = [
    # a plausible figure for every unit: its Jan–Jul baseline and a little more
    ("/周报 {name} 实际利用外资={figure}", "已收到报送 · {unit}"),
    ("/周报 {name}：实际利用外资={figure}", "已收到报送 · {unit}"),
    ("/进度 {name}", "{unit} · 进度"),
    ("/差距 {name}", "{unit} · 差距"),
    ("/历史 {name}", "历史 · {unit}"),
    ("/绑定 someone {name}", "已绑定：someone（someone）→ {unit}"),
    (
        "/项目 登记 {name} 名称=测试项目 总投资=3.2亿美元 外资=是 合同开工=2021-12-01"
        " 合同竣工=2022-06-30",
        "已登记项目 #1 · {unit}",
    ),
    ("/项目 列表 {name}", "{unit}"),
    ("/清单 {name}", "{unit}"),
]


@pytest.mark.parametrize(("template", "done"), COMMANDS)
@pytest.mark.parametrize(("seed", "written", "unit"), WRITTEN_APART)
async def test_every_command_reads_a_unit_written_as_the_seeds_write_it(
    say: Say, template: str, done: str, seed: str, written: str, unit: str
) -> None:
    figure = FDI_2021.unit(unit).baselines["fdi"] + 500
    reply = await say(ADMIN, template.format(name=written, figure=figure))
    assert reply is not None, (seed, template)
    assert "未知单位" not in reply.text, (seed, written, reply.text)
    assert done.format(unit=unit) in reply.text, (seed, written, reply.text)


async def test_an_unknown_name_is_quoted_whole_with_the_accepted_names(say: Say) -> None:
    reply = await say(ADMIN, "/周报 嘉兴经济开发区（国际商务区） 实际利用外资=33000")
    assert reply is not None
    assert "未知单位“嘉兴经济开发区（国际商务区）”" in reply.text
    assert "嘉兴经济技术开发区（国际商务区）" in reply.text  # among the accepted names
    for command in ("/进度", "/差距", "/历史", "/项目 列表"):
        reply = await say(ADMIN, f"{command} 嘉兴经济开发区")
        assert reply is not None and "未知单位“嘉兴经济开发区”" in reply.text, command
        assert "嘉兴经济技术开发区（国际商务区）" in reply.text, command


async def test_a_unit_note_in_brackets_is_not_taken_for_part_of_a_name(app: App, say: Say) -> None:
    reply = await say("head-nanhu", "/周报 实际利用外资（万美元）=25000")
    assert reply is not None and "实际利用外资：25,000万美元" in reply.text


async def test_a_note_naming_a_unit_of_amount_is_never_read_past(app: App, say: Say) -> None:
    """'（单位：亿美元）=3' read past would store 3万美元: it is refused instead."""
    reply = await say("head-nanhu", "/周报 实际利用外资（单位：亿美元）=3")
    assert reply is not None and "已收到报送" not in reply.text
    async with app.database.read(app.campaign.id) as repos:
        assert await repos.reports.history("南湖区") == []


def test_name_keys_fold_bracket_styles_spaces_and_full_width_digits() -> None:
    assert name_key("浙江乍浦经济开发区〔嘉兴港区〕") == name_key("浙江乍浦经济开发区 (嘉兴港区)")
    assert name_key("嘉兴经济技术开发区【国际商务区】") == "嘉兴经济技术开发区（国际商务区）"
    assert name_key("世界５００强投资项目") == "世界500强投资项目"


# ---- each phrase written the other way, the phrases that name something else (issue #22) ----


@pytest.mark.parametrize(
    ("seed", "phrase", "metric"), written_otherwise(SEED_METRICS_2021 + SEED_NOTED_2021)
)
async def test_a_post_in_the_seeds_words_written_otherwise_is_stored_under_its_metric(
    app: App, say: Say, seed: str, phrase: str, metric: str
) -> None:
    reply = await say("head-nanhu", f"/周报 {phrase}=25000")
    assert reply is not None and "已收到报送 · 南湖区" in reply.text, (seed, reply)
    async with app.database.read(app.campaign.id) as repos:
        [version] = await repos.reports.history("南湖区")
    assert version.posted == {metric: 25000}, (seed, phrase)


@pytest.mark.parametrize(("seed", "phrase", "metric"), written_otherwise(COUNTS_2024))
async def test_a_2024_count_written_otherwise_is_answered_as_a_ledger_count(
    say: Say, seed: str, phrase: str, metric: str
) -> None:
    await say(ADMIN, "/赛事 zhaoda-2024", at="2024-05-10T09:00:00+08:00")
    reply = await say(ADMIN, f"/周报 南湖区 {phrase}=3", at="2024-05-10T10:00:00+08:00")
    label = ZHAODA_2024.metric(metric).label
    assert reply is not None and f"“{label}”由项目台账自动统计" in reply.text, (seed, reply)


@pytest.mark.parametrize(("seed", "phrase", "refusal"), NOT_A_METRIC_2021)
async def test_a_2021_phrase_naming_something_else_is_refused_and_not_stored(
    app: App, say: Say, seed: str, phrase: str, refusal: str
) -> None:
    reply = await say("head-nanhu", f"/周报 {phrase}=45")
    assert reply is not None and refusal in reply.text, (seed, reply)
    async with app.database.read(app.campaign.id) as repos:
        assert await repos.reports.history("南湖区") == []


@pytest.mark.parametrize(("seed", "phrase", "refusal"), NOT_A_METRIC_2024)
async def test_a_2024_phrase_naming_something_else_is_not_read_as_a_count(
    app: App, say: Say, seed: str, phrase: str, refusal: str
) -> None:
    await say(ADMIN, "/赛事 zhaoda-2024", at="2024-05-10T09:00:00+08:00")
    reply = await say(ADMIN, f"/周报 南湖区 {phrase}=3", at="2024-05-10T10:00:00+08:00")
    assert reply is not None and refusal in reply.text, (seed, reply)
    assert "由项目台账自动统计" not in reply.text, (seed, reply)


@pytest.mark.parametrize(
    ("seed", "phrase", "metric"), SEED_METRICS_2024 + written_otherwise(SEED_METRICS_2024)
)
def test_a_targets_column_headed_by_any_seed_phrase_sets_its_metric(
    seed: str, phrase: str, metric: str
) -> None:
    rows = "".join(f"\n{unit.name},3" for unit in ZHAODA_2024.units)
    targets = parse_targets_csv(f"单位,{phrase}{rows}", ZHAODA_2024)
    assert targets["南湖区"] == {metric: 3}, (seed, phrase)


@pytest.mark.parametrize(
    ("seed", "phrase", "metric"),
    SEED_METRICS_2021 + SEED_NOTED_2021 + written_otherwise(SEED_NOTED_2021),
)
def test_an_import_column_headed_by_any_seed_phrase_reads_its_metric(
    seed: str, phrase: str, metric: str
) -> None:
    columns = read_columns(FDI_2021, ["单位", "报送时间", phrase])
    assert [m.id for _, m in columns.metrics] == [metric], (seed, phrase)


def test_a_targets_column_with_a_counting_note_reads_its_metric() -> None:
    rows = "".join(f"\n{unit.name},12000" for unit in ZHAODA_2024.units)
    targets = parse_targets_csv(f"单位,实际利用外资（商务部口径）{rows}", ZHAODA_2024)
    assert targets["南湖区"] == {"fdi": 12000}


@pytest.mark.parametrize(("seed", "phrase", "metric"), COUNTS_2024)
def test_an_import_column_of_a_2024_count_says_the_ledger_counts_it(
    seed: str, phrase: str, metric: str
) -> None:
    with pytest.raises(ImportRefused) as refused:
        read_columns(ZHAODA_2024, ["单位", "报送时间", "实际利用外资", phrase])
    [error] = refused.value.errors
    label = ZHAODA_2024.metric(metric).label
    expected = f"列“{phrase}”即{label}，由项目台账自动统计，不能导入"
    assert problem_text(error.problem, ZHAODA_2024) == expected, seed


@pytest.mark.parametrize(("seed", "written", "unit"), WRITTEN_APART)
async def test_the_2024_campaign_reads_the_zones_as_the_seeds_write_them(
    say: Say, seed: str, written: str, unit: str
) -> None:
    at = "2024-05-10T10:00:00+08:00"
    await say(ADMIN, "/赛事 zhaoda-2024", at=at)
    register = (
        "/项目 登记 {name} 名称=测试项目 总投资=12亿元 合同开工=2024-12-01 合同竣工=2025-06-30"
    )
    for template in ("/周报 {name} 实际使用外资=3000", "/进度 {name}", register, "/清单 {name}"):
        reply = await say(ADMIN, template.format(name=written), at=at)
        assert reply is not None and unit in reply.text, (seed, template, reply)
        assert "未知单位" not in reply.text, (seed, template, reply.text)


@pytest.mark.parametrize(("seed", "written", "unit"), SEED_UNITS)
def test_the_sandbox_as_finds_a_head_by_the_unit_as_the_seeds_write_it(
    seed: str, written: str, unit: str
) -> None:
    everyone = identity.people(FDI_2021, [], ())
    person = identity.find_person(written, FDI_2021, everyone)
    assert isinstance(person, identity.Person) and person.unit == unit, (seed, written, person)
