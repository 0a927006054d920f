"""The command table: which row a message names, sub-commands included, and the startup checks."""

import pytest

from campaign.access import Action
from campaign.projects import STAGE_ALIASES, STAGES, Stage, find_stage
from chat.messages import Reply
from chat.router import CommandTable, Router
from handlers import ROUTERS

TABLE = CommandTable.from_routers(ROUTERS)


@pytest.mark.parametrize(
    ("word", "args", "row", "row_args"),
    [
        (
            "项目",
            "登记 名称=新能源电池 总投资=3.2亿美元",
            "项目 登记",
            "名称=新能源电池 总投资=3.2亿美元",
        ),
        ("project", "register 名称=x", "项目 登记", "名称=x"),
        ("PROJECT", "LIST 南湖区 签约", "项目 列表", "南湖区 签约"),
        ("项目", "签约 新能源电池 2024-03-15", "项目 签约", "新能源电池 2024-03-15"),
        ("项目", "到资\n12 1200", "项目 到资", "12 1200"),
        ("项目", "列表", "项目 列表", ""),
        ("项目", "12", "项目", "12"),  # no sub-word: the parent's own row shows project 12
        ("项目", "#12", "项目", "#12"),
        ("项目", "", "项目", ""),
        ("项目", "在谈 新能源电池", "项目", "在谈 新能源电池"),  # 在谈 is where projects start
        ("项目", "登记：名称=x", "项目", "登记：名称=x"),  # a sub-word ends at whitespace
        ("红旗", "提名 #2 理由=提前开工", "红旗 提名", "#2 理由=提前开工"),
        ("redflag", "nominate", "红旗 提名", ""),
        ("红旗", "", "红旗", ""),
        ("发布", "预览", "发布 预览", ""),
        ("发布", "preview", "发布 预览", ""),
        ("发布", "", "发布", ""),
        ("排名", "登记", "排名", "登记"),  # sub-words belong to their parent only
        ("赛事", "zhaoda-2024", "赛事", "zhaoda-2024"),
    ],
)
def test_lookup_names_the_row_and_its_args(word: str, args: str, row: str, row_args: str) -> None:
    route = TABLE.lookup(word, args)
    assert route is not None
    assert (route.spec.name, route.args) == (row, row_args)


def test_an_unknown_word_names_no_row() -> None:
    assert TABLE.lookup("天气", "登记") is None


@pytest.mark.parametrize(
    "word", [stage.value for stage in STAGES if stage is not Stage.TALKING] + list(STAGE_ALIASES)
)
def test_every_stage_word_routes_to_that_stage_s_row(word: str) -> None:
    route = TABLE.lookup("项目", f"{word} 12 2024-03-15")
    assert route is not None and route.spec.parent == "项目"
    assert find_stage(route.spec.word) is find_stage(word)
    assert route.args == "12 2024-03-15"


def test_sub_commands_declare_their_own_action_and_refusal() -> None:
    route = TABLE.lookup("红旗", "提名 #2 理由=x")
    assert route is not None and route.spec.action_for(route.args) is Action.NOMINATE
    assert route.spec.refusal == "仅管理员和领导可提名红旗项目。"
    parent = TABLE.lookup("红旗", "")
    assert parent is not None and not parent.spec.admin_only
    transfer = TABLE.lookup("项目", "流转 12 至嘉善县")
    assert transfer is not None and transfer.args == "12 至嘉善县"
    assert transfer.spec.action_for(transfer.args) is Action.ADMINISTER  # heads may not


def test_sub_commands_are_listed_under_their_parent_in_registration_order() -> None:
    project = TABLE.lookup("项目", "")
    assert project is not None
    assert [sub.word for sub in TABLE.sub_commands(project.spec)] == [
        "登记",
        "签约",
        "注册",
        "开工",
        "竣工",
        "投产",
        "到资",
        "列表",
        "流转",
    ]


async def _reply(_ctx: object) -> Reply:
    return Reply.markdown("t", "t")


def _router(*rows: tuple[tuple[str, ...], dict[str, object]]) -> Router:
    router = Router("test")
    for words, options in rows:
        router.command(*words, help="h", **options)(_reply)  # type: ignore[arg-type]
    return router


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([(("甲", "a"), {}), (("乙", "A"), {})], "registered twice"),
        ([(("甲",), {}), (("子",), {"parent": "甲"}), (("子",), {"parent": "甲"})], "twice"),
        ([(("子",), {"parent": "甲"})], "no command '甲'"),
        ([(("甲", "a"), {}), (("子",), {"parent": "a"})], "no command 'a'"),
        (
            [(("甲",), {}), (("子",), {"parent": "甲"}), (("孙",), {"parent": "甲 子"})],
            "no command",
        ),
        ([(("甲",), {"admin_only": True}), (("子",), {"parent": "甲"})], "must be admin-only"),
    ],
)
def test_a_bad_table_fails_at_startup(
    rows: list[tuple[tuple[str, ...], dict[str, object]]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        CommandTable.from_routers([_router(*rows)])


def test_the_same_sub_word_under_two_parents_and_a_parent_registered_later_are_fine() -> None:
    early = _router((("子",), {"parent": "乙"}))
    late = _router((("甲",), {}), (("乙",), {}), (("子",), {"parent": "甲"}))
    table = CommandTable.from_routers([early, late])
    assert [
        (r.spec.name, r.args) for r in (table.lookup("甲", "子 1"), table.lookup("乙", "子 2")) if r
    ] == [
        ("甲 子", "1"),
        ("乙 子", "2"),
    ]
    assert table.lookup("子") is None  # a sub-word alone is not a command
