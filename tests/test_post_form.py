"""Weekly-post field parsing: one line or several, = or ：, free text with spaces; typed refusals."""

from decimal import Decimal

import pytest

from campaign import AmountError, Campaign
from campaign.key_values import key_marks, prefix_before, values_between
from campaign.post_form import (
    BadAmount,
    BeyondCents,
    ComputedMetric,
    MissingNumber,
    PostedTwice,
    PostFormError,
    TextTooLong,
    UnknownField,
    UnknownUnit,
    UnreadablePrefix,
    parse_post_form,
)

EXAMPLE = "/周报 实际利用外资=41200"


def test_canonical_one_line_form(campaign: Campaign) -> None:
    form = parse_post_form(
        "实际利用外资=41200 高技术=20000 大项目到资=52000 亮点=签约 2 个项目 问题=用地紧张",
        campaign,
    )
    assert form.unit is None
    assert form.values == {
        "fdi": Decimal(41200),
        "hightech": Decimal(20000),
        "bigproject": Decimal(52000),
    }
    assert form.highlights == "签约 2 个项目"
    assert form.problems == "用地紧张"


def test_multi_line_form_with_full_width_colons_and_unit_prefix(campaign: Campaign) -> None:
    form = parse_post_form(
        "南湖区\n实到外资：4.12亿\n高技术：２００００万美元\n亮点：完成率:100%", campaign
    )
    assert form.unit is not None and form.unit.name == "南湖区"
    assert form.values == {"fdi": Decimal(41200), "hightech": Decimal(20000)}
    assert form.highlights == "完成率:100%"


def test_a_correction_reason_may_hold_spaces(campaign: Campaign) -> None:
    form = parse_post_form("实际利用外资=29000 原因=统计 口径调整", campaign)
    assert (form.values, form.reason) == ({"fdi": Decimal(29000)}, "统计 口径调整")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        ("利润=5", "未知字段“利润”"),
        ("实际利用外资=", "缺少数字"),
        ("实际利用外资=-5", "负数"),
        ("实际利用外资=abc", "不是数字"),
        ("实际利用外资=1 外资=2", "填写了两次"),
        ("火星区 实际利用外资=1", "未知单位“火星区”"),
    ],
)
def test_bad_fields_are_refused_with_an_example(
    campaign: Campaign, args: str, fragment: str
) -> None:
    from handlers import texts

    with pytest.raises(PostFormError) as error:
        parse_post_form(args, campaign)
    assert fragment in texts.form_refused(error.value, campaign, EXAMPLE)


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        ("利润=5", UnknownField("利润")),
        ("实际利用外资=1 利润=5", UnknownField("利润")),
        ("实际利用外资=", MissingNumber("实际利用外资")),
        ("实际利用外资=1 外资=2", PostedTwice),
        ("火星区 实际利用外资=1", UnknownUnit("火星区")),
        ("火星区", UnknownUnit("火星区")),
        ("南湖 区 实际利用外资=1", UnreadablePrefix("南湖 区")),
        ("41200", UnreadablePrefix("41200")),
        ("亮点=" + "好" * 501, TextTooLong("亮点", 500)),
        ("实际利用外资=1.001", BeyondCents),  # 万美元 to the cent: 1.00万美元 is the finest
        ("实际利用外资=12345.6789万", BeyondCents),  # a bare 万 is 万美元 already: 4 decimals
        ("实际利用外资=1亿元", BadAmount),  # 元 is not the metric's currency
    ],
)
def test_typed_refusals_carry_what_the_reply_names(
    campaign: Campaign, args: str, refusal: PostFormError | type[PostFormError]
) -> None:
    with pytest.raises(PostFormError) as error:
        parse_post_form(args, campaign)
    if isinstance(refusal, type):
        assert type(error.value) is refusal
    else:
        assert error.value == refusal


@pytest.mark.parametrize(
    ("args", "fdi"),
    [
        ("实际利用外资=1.01", Decimal("1.01")),  # two decimals: exact
        ("亮点=完成率:100% 实际利用外资=5", Decimal(5)),  # an unknown key inside 亮点 is text
        ("实际利用外资 = 7", Decimal(7)),  # spaces before the separator
    ],
)
def test_readable_edges(campaign: Campaign, args: str, fdi: Decimal) -> None:
    assert parse_post_form(args, campaign).values["fdi"] == fdi


def test_text_of_exactly_the_limit_passes(campaign: Campaign) -> None:
    assert parse_post_form("问题=" + "难" * 500, campaign).problems == "难" * 500


def test_a_metric_computed_from_the_project_ledger_cannot_be_posted() -> None:
    from bot.config import SHIPPED_CAMPAIGN
    from campaign import load_campaign
    from handlers import texts

    zhaoda = load_campaign(SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml")
    computed = next(m for m in zhaoda.metrics if m.is_computed)
    with pytest.raises(ComputedMetric) as error:
        parse_post_form(f"{computed.label}=3", zhaoda)
    assert error.value.metric == computed
    assert "项目台账自动统计" in texts.form_refused(error.value, zhaoda, EXAMPLE)


def test_an_amount_beyond_cents_reads_like_any_bad_amount(campaign: Campaign) -> None:
    from handlers import texts

    metric = campaign.metric("fdi")
    assert texts.form_refused(BeyondCents(metric, "1.001"), campaign, EXAMPLE) == texts.bad_amount(
        metric, AmountError("“1.001”折合万美元超过两位小数"), EXAMPLE
    )


def test_examples_come_from_the_campaign_file() -> None:
    from bot.config import SHIPPED_CAMPAIGN
    from campaign import load_campaign
    from handlers import texts

    fdi = load_campaign(SHIPPED_CAMPAIGN)
    assert texts.report_example(fdi) == (
        "/周报 实际利用外资=41200 高技术=20000 大项目到资=52000 亮点=… 问题=…"
    )
    zhaoda = load_campaign(SHIPPED_CAMPAIGN.parent / "zhaoda-2024.toml")
    assert texts.report_example(zhaoda) == "/周报 实际利用外资=12000 亮点=… 问题=…"
    with pytest.raises(PostFormError) as error:
        parse_post_form("高技术=5", zhaoda)
    text = texts.form_refused(error.value, zhaoda, texts.report_example(zhaoda))
    assert "可用字段：实际利用外资、亮点、问题" in text
    assert "高技术" not in text.split("例：")[1]


# ---- the key=value tokenizer every chat form shares ----


@pytest.mark.parametrize(
    ("text", "prefix", "pairs"),
    [
        ("", "", []),
        ("南湖区", "南湖区", []),
        ("南湖区 名称=电池 总投资=3亿", "南湖区", [("名称", "电池"), ("总投资", "3亿")]),
        ("a＝1\nb：x y\tc:2", "", [("a", "1"), ("b", "x y"), ("c", "2")]),
        ("k = v", "", [("k", "v")]),
        ("电池理由=快", "", [("电池理由", "快")]),  # a key starts after a space, not mid-word
        ("x=a=b", "", [("x", "a=b")]),
        ("名称= ", "", [("名称", "")]),
    ],
)
def test_key_value_tokenizer(text: str, prefix: str, pairs: list[tuple[str, str]]) -> None:
    marks = key_marks(text)
    assert prefix_before(text, marks) == prefix
    assert values_between(text, marks) == pairs
