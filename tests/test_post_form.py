"""Weekly-post field parsing as officials type it: a table of real posts, their readings and refusals."""

from dataclasses import replace
from decimal import Decimal

import pytest

from campaign import AmountError, Campaign, Metric
from campaign.key_values import key_marks, prefix_before, values_between
from campaign.post_form import (
    EXPECT_FIELD,
    EXPECT_SEPARATOR,
    AmbiguousField,
    BadAmount,
    BeyondCents,
    ComputedMetric,
    MissingNumber,
    PostedTwice,
    PostFormError,
    TextTooLong,
    UnknownField,
    UnknownUnit,
    Unreadable,
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


# Real-world posts as officials type them (issue #12), with their exact readings: unit, figures
# in 万美元, then 亮点, 问题, 原因 (trailing empty ones left out).
D = Decimal

READINGS = [
    ("实到外资=4.12亿美元，高技术=2亿", None, {"fdi": D("41200"), "hightech": D("20000")}, ()),
    ("实到外资4.12亿美元", None, {"fdi": D("41200")}, ()),
    ("实际利用外资 41200万美元", None, {"fdi": D("41200")}, ()),
    ("1、实际利用外资：41200", None, {"fdi": D("41200")}, ()),
    ("实际利用外资=4亿1600万", None, {"fdi": D("41600")}, ()),
    ("实际利用外资=4亿1200万美元", None, {"fdi": D("41200")}, ()),
    (
        "实际利用外资：41200，高技术：20000，大项目到资：52000",
        None,
        {"fdi": D("41200"), "hightech": D("20000"), "bigproject": D("52000")},
        (),
    ),
    (
        "实际利用外资=41200；高技术=20000；大项目到资=52000。",
        None,
        {"fdi": D("41200"), "hightech": D("20000"), "bigproject": D("52000")},
        (),
    ),
    (
        "实际利用外资=41200;高技术=20000;大项目到资=52000",
        None,
        {"fdi": D("41200"), "hightech": D("20000"), "bigproject": D("52000")},
        (),
    ),
    (
        "实际利用外资=41200、高技术=20000、大项目到资=52000",
        None,
        {"fdi": D("41200"), "hightech": D("20000"), "bigproject": D("52000")},
        (),
    ),
    ("实际利用外资=41200,高技术=20000", None, {"fdi": D("41200"), "hightech": D("20000")}, ()),
    (
        "实际利用外资41200高技术20000大项目到资52000",
        None,
        {"fdi": D("41200"), "hightech": D("20000"), "bigproject": D("52000")},
        (),
    ),
    ("实到外资4.12亿美元高技术2亿", None, {"fdi": D("41200"), "hightech": D("20000")}, ()),
    ("实际利用外资 41200 高技术 20000", None, {"fdi": D("41200"), "hightech": D("20000")}, ()),
    (
        "实际利用外资＝41200\u3000高技术＝20000",
        None,
        {"fdi": D("41200"), "hightech": D("20000")},
        (),
    ),
    ("实际利用外资：４１２００", None, {"fdi": D("41200")}, ()),
    ("实际利用外资：４．１２亿", None, {"fdi": D("41200")}, ()),
    ("实际利用外资=41,200", None, {"fdi": D("41200")}, ()),
    ("实际利用外资=41，200，高技术=20，000", None, {"fdi": D("41200"), "hightech": D("20000")}, ()),
    ("实际利用外资=4.12亿", None, {"fdi": D("41200")}, ()),
    ("实际利用外资=412000000美元", None, {"fdi": D("41200")}, ()),
    ("实际利用外资=1.2万", None, {"fdi": D("1.2")}, ()),
    ("实际利用外资 = 7", None, {"fdi": D("7")}, ()),
    ("实际利用外资（万美元）：41200", None, {"fdi": D("41200")}, ()),
    ("实际利用外资(亿美元)=4.12", None, {"fdi": D("41200")}, ()),
    (
        "1、实际利用外资：41200\n2、高技术：20000\n3、大项目到资：52000",
        None,
        {"fdi": D("41200"), "hightech": D("20000"), "bigproject": D("52000")},
        (),
    ),
    ("1.实际利用外资41200\n2.高技术20000", None, {"fdi": D("41200"), "hightech": D("20000")}, ()),
    (
        "（1）实际利用外资：41200（2）高技术：20000",
        None,
        {"fdi": D("41200"), "hightech": D("20000")},
        (),
    ),
    (
        "(1)实际利用外资：41200\n(2)高技术：20000",
        None,
        {"fdi": D("41200"), "hightech": D("20000")},
        (),
    ),
    (
        "①实际利用外资41200②高技术20000③大项目到资52000",
        None,
        {"fdi": D("41200"), "hightech": D("20000"), "bigproject": D("52000")},
        (),
    ),
    (
        "一、实际利用外资：41200\n二、高技术：20000",
        None,
        {"fdi": D("41200"), "hightech": D("20000")},
        (),
    ),
    (
        "实际利用外资：41200。\n高技术：20000。",
        None,
        {"fdi": D("41200"), "hightech": D("20000")},
        (),
    ),
    ("南湖区 实际利用外资=41200", "南湖区", {"fdi": D("41200")}, ()),
    (
        "南湖区\n实到外资：4.12亿\n高技术：２００００万美元",
        "南湖区",
        {"fdi": D("41200"), "hightech": D("20000")},
        (),
    ),
    ("南湖 实到外资4.12亿", "南湖区", {"fdi": D("41200")}, ()),
    ("南湖区：实际利用外资41200", "南湖区", {"fdi": D("41200")}, ()),
    ("南湖区实际利用外资41200", "南湖区", {"fdi": D("41200")}, ()),
    ("实际41200", None, {"fdi": D("41200")}, ()),
    ("实到 4.12亿美元", None, {"fdi": D("41200")}, ()),
    ("高技术产业 20000", None, {"hightech": D("20000")}, ()),
    ("大项目 52000", None, {"bigproject": D("52000")}, ()),
    ("超亿美元 52000", None, {"bigproject": D("52000")}, ()),
    (
        "外资=41200 高技术=20000 亮点=签约两个项目 问题=用地紧张",
        None,
        {"fdi": D("41200"), "hightech": D("20000")},
        ("签约两个项目", "用地紧张"),
    ),
    (
        "实际利用外资=41200，亮点：签约两个项目，问题：用地紧张。",
        None,
        {"fdi": D("41200")},
        ("签约两个项目", "用地紧张"),
    ),
    (
        "实际利用外资：41200\n亮点：签约两个项目，总投资5亿美元\n问题：用地指标紧张",
        None,
        {"fdi": D("41200")},
        ("签约两个项目，总投资5亿美元", "用地指标紧张"),
    ),
    ("亮点签约两个项目", None, {}, ("签约两个项目",)),
    ("亮点=完成率:100% 实际利用外资=5", None, {"fdi": D("5")}, ("完成率:100%",)),
    ("实际利用外资=29000 原因=统计 口径调整", None, {"fdi": D("29000")}, ("", "", "统计 口径调整")),
    ("实际利用外资=29000，原因：统计口径调整", None, {"fdi": D("29000")}, ("", "", "统计口径调整")),
    ("亮点：引进外资项目3个", None, {}, ("引进外资项目3个",)),
    ("fdi=41200 hightech=20000", None, {"fdi": D("41200"), "hightech": D("20000")}, ()),
    (
        "实际利用外资=41200 高技术=20000 大项目到资=52000 亮点=签约 2 个项目 问题=用地紧张",
        None,
        {"fdi": D("41200"), "hightech": D("20000"), "bigproject": D("52000")},
        ("签约 2 个项目", "用地紧张"),
    ),
    ("实际利用外资 4亿 1200万", None, {"fdi": D("41200")}, ()),
    ("实际利用外资=1.01", None, {"fdi": D("1.01")}, ()),
]


@pytest.mark.parametrize(("args", "unit", "values", "free_text"), READINGS)
def test_natural_posts_are_read_exactly(
    campaign: Campaign,
    args: str,
    unit: str | None,
    values: dict[str, Decimal],
    free_text: tuple[str, ...],
) -> None:
    form = parse_post_form(args, campaign)
    assert (form.unit.name if form.unit else None) == unit
    assert form.values == values
    assert all(v == v.quantize(Decimal("0.01")) for v in form.values.values())
    padded = (*free_text, "", "", "")[:3]
    assert (form.highlights, form.problems, form.reason) == padded


# What cannot be read exactly is refused with the exact reply: the part quoted, what belongs
# there, and the message corrected when only one fix fits.
REFUSALS = [
    (
        "利润=5",
        "未知字段“利润”。可用字段：实际利用外资、高技术产业实到外资、超亿美元项目到资、亮点、问题。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=1 利润=5",
        "未知字段“利润”。可用字段：实际利用外资、高技术产业实到外资、超亿美元项目到资、亮点、问题。\n例：/周报 实际利用外资=41200",
    ),
    ("实际利用外资=", "“实际利用外资”缺少数字。\n例：/周报 实际利用外资=41200"),
    ("实际利用外资，高技术=20000", "“实际利用外资”缺少数字。\n例：/周报 实际利用外资=41200"),
    (
        "实际利用外资=1 外资=2",
        "“实际利用外资”填写了两次（“1”和“2”），请只保留一个。\n例：/周报 实际利用外资=41200",
    ),
    (
        "火星区 实际利用外资=1",
        "未知单位“火星区”。可选单位：南湖区、秀洲区、嘉善县、平湖市、海盐县、海宁市、桐乡市、嘉兴经济技术开发区（国际商务区）、嘉兴港区。",
    ),
    (
        "火星区",
        "未知单位“火星区”。可选单位：南湖区、秀洲区、嘉善县、平湖市、海盐县、海宁市、桐乡市、嘉兴经济技术开发区（国际商务区）、嘉兴港区。",
    ),
    (
        "南湖 区 实际利用外资=1",
        "未知字段“区”。可用字段：实际利用外资、高技术产业实到外资、超亿美元项目到资、亮点、问题。\n例：/周报 实际利用外资=41200",
    ),
    ("41200", "无法识别“41200”，此处应为字段名（如实际利用外资）。\n例：/周报 实际利用外资=41200"),
    (
        "实际利用外资=-5",
        "实际利用外资：“-5”不能为负数，应为万美元数字。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=abc",
        "无法识别“abc”，此处应为数字（可带万、亿、万美元、亿美元）。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=1.001",
        "实际利用外资：“1.001”折合万美元超过两位小数，应为万美元数字。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=12345.6789万",
        "实际利用外资：“12345.6789万”折合万美元超过两位小数，应为万美元数字。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=1亿元",
        "实际利用外资：“1亿元”的单位与万美元不符，应为万美元数字。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资为41200",
        "无法识别“为”，此处应为“=”或直接接数字。\n请改为：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资累计41200",
        "无法识别“累计”，此处应为“=”或直接接数字。\n请改为：/周报 实际利用外资=41200",
    ),
    ("实到外资达4.12亿", "无法识别“达”，此处应为“=”或直接接数字。\n请改为：/周报 实到外资=4.12亿"),
    (
        "实际利用外资=4亿1200",
        "无法识别“4亿1200”，此处应为“1200”后的“万”。\n请改为：/周报 实际利用外资=4亿1200万",
    ),
    (
        "实际利用外资=4。12亿",
        "无法识别“4。12亿”，此处应为小数点“.”。\n请改为：/周报 实际利用外资=4.12亿",
    ),
    (
        "实际利用外资=4.12亿美元左右",
        "无法识别“4.12亿美元左右”，此处应为数字（可带万、亿、万美元、亿美元）。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=约41200",
        "无法识别“约41200”，此处应为数字（可带万、亿、万美元、亿美元）。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=41200 20000",
        "无法识别“20000”，此处应为字段名（如实际利用外资）。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=1万4亿",
        "无法识别“1万4亿”，此处应为数字（可带万、亿、万美元、亿美元）。\n例：/周报 实际利用外资=41200",
    ),
    (
        "亿=5",
        "未知字段“亿”。可用字段：实际利用外资、高技术产业实到外资、超亿美元项目到资、亮点、问题。\n例：/周报 实际利用外资=41200",
    ),
    (
        "世界500强项目=3",
        "未知字段“世界500强项目”。可用字段：实际利用外资、高技术产业实到外资、超亿美元项目到资、亮点、问题。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=四万一千二",
        "无法识别“四万一千二”，此处应为数字（可带万、亿、万美元、亿美元）。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资=41200万欧元",
        "无法识别“41200万欧元”，此处应为数字（可带万、亿、万美元、亿美元）。\n例：/周报 实际利用外资=41200",
    ),
    (
        "实际利用外资：41200\n高技术：两万",
        "无法识别“两万”，此处应为数字（可带万、亿、万美元、亿美元）。\n例：/周报 实际利用外资=41200",
    ),
]


@pytest.mark.parametrize(("args", "reply"), REFUSALS)
def test_unreadable_posts_are_refused_with_the_exact_reply(
    campaign: Campaign, args: str, reply: str
) -> None:
    from handlers import texts

    with pytest.raises(PostFormError) as error:
        parse_post_form(args, campaign)
    assert texts.form_refused(error.value, campaign, EXAMPLE) == reply


def test_the_input_table_holds_at_least_sixty_real_world_posts() -> None:
    assert len(READINGS) + len(REFUSALS) >= 60


@pytest.mark.parametrize(
    ("args", "refusal"),
    [
        ("利润=5", UnknownField("利润")),
        ("实际利用外资=1 利润=5", UnknownField("利润")),
        ("实际利用外资=", MissingNumber("实际利用外资")),
        ("实际利用外资=1 外资=2", PostedTwice),
        ("火星区 实际利用外资=1", UnknownUnit("火星区")),
        ("火星区", UnknownUnit("火星区")),
        ("南湖 区 实际利用外资=1", UnknownField("区")),
        ("火星 区 实际利用外资=1", UnreadablePrefix("火星 区")),
        ("41200", Unreadable("41200", EXPECT_FIELD)),
        ("亮点=" + "好" * 501, TextTooLong("亮点", 500)),
        ("实际利用外资=1.001", BeyondCents),  # 万美元 to the cent: 1.00万美元 is the finest
        ("实际利用外资=12345.6789万", BeyondCents),  # a bare 万 is 万美元 already: 4 decimals
        ("实际利用外资=1亿元", BadAmount),  # 元 is not the metric's currency
        ("实际利用外资为41200", Unreadable("为", EXPECT_SEPARATOR, "实际利用外资=41200")),
        ("外资=4亿1200美元", Unreadable("4亿1200美元", "“1200”后的“万”", "外资=4亿1200万美元")),
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


def test_a_beginning_several_fields_share_is_refused_with_their_labels(
    campaign: Campaign,
) -> None:
    from handlers import texts

    goods = Metric("goods", "实物投资", "万美元")
    wider = replace(campaign, metrics=(*campaign.metrics, goods))
    with pytest.raises(AmbiguousField) as error:
        parse_post_form("实=5", wider)
    assert error.value == AmbiguousField("实", ("实际利用外资", "实物投资"))
    assert texts.form_refused(error.value, wider, EXAMPLE) == (
        "“实”可指实际利用外资、实物投资，请写全字段名。\n例：/周报 实际利用外资=41200"
    )


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
