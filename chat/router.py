"""Command registration: a Router per handler module, collected into one CommandTable at start.

A row is a command (`/排名`) or a sub-command under one (`/项目 登记`): every command a user can
type is a row, so help, the admin check and the duplicate-word check see all of them.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from campaign.access import Action
from chat import replies
from chat.messages import Reply


class _Call(Protocol):
    @property
    def args(self) -> str: ...


# What a handler gets (chat.context.CommandContext, which holds the table: a type parameter here
# keeps the router from importing the context that imports it).
Ctx = TypeVar("Ctx", bound=_Call)
Handler = Callable[[Ctx], Awaitable[Reply]]

_SUB_WORD = re.compile(r"(\S+)\s*(.*)", re.DOTALL)


@dataclass(frozen=True, slots=True)
class CommandSpec(Generic[Ctx]):
    words: tuple[str, ...]  # Chinese word first, then ASCII aliases (a sub-command: its sub-words)
    help: str
    usage: str
    handler: Handler[Ctx]
    admin_only: bool = False
    parent: str = ""  # a sub-command: its parent command's word (`项目` for `/项目 登记`)
    refusal: str = ""  # what a non-admin is told instead of the generic admin-only reply
    action: Action = Action.READ  # what the row does, for the role × action table
    args_action: Action | None = None  # what it does when given arguments (/赛事 <编号> switches)

    def action_for(self, args: str) -> Action:
        """The action a call with `args` needs; an admin-only row is at least ADMINISTER."""
        action = self.args_action if self.args_action and args.strip() else self.action
        return Action.ADMINISTER if self.admin_only and action is Action.READ else action

    @property
    def word(self) -> str:
        return self.words[0]

    @property
    def name(self) -> str:
        """'排名', or '项目 登记' for a sub-command: what the user types after the slash."""
        return f"{self.parent} {self.word}" if self.parent else self.word


@dataclass(frozen=True, slots=True)
class Route(Generic[Ctx]):
    """The row a message names, and the arguments its handler gets."""

    spec: CommandSpec[Ctx]
    args: str


class Router(Generic[Ctx]):
    def __init__(self, name: str) -> None:
        self.name = name
        self.specs: list[CommandSpec[Ctx]] = []

    def command(
        self,
        *words: str,
        help: str,
        usage: str = "",
        admin_only: bool = False,
        parent: str = "",
        refusal: str = "",
        action: Action = Action.READ,
        args_action: Action | None = None,
    ) -> Callable[[Handler[Ctx]], Handler[Ctx]]:
        def register(handler: Handler[Ctx]) -> Handler[Ctx]:
            name = f"{parent} {words[0]}" if parent else words[0]
            self.specs.append(
                CommandSpec(
                    words,
                    help,
                    usage or f"/{name}",
                    handler,
                    admin_only,
                    parent,
                    refusal,
                    action,
                    args_action,
                )
            )
            return handler

        return register


class CommandTable(Generic[Ctx]):
    """Every command word and sub-word; `fallback` answers a message that names none."""

    def __init__(
        self, specs: Iterable[CommandSpec[Ctx]], fallback: Handler[Ctx] | None = None
    ) -> None:
        self.specs = tuple(specs)
        self.fallback: Handler[Ctx] = fallback or _unknown_command
        self._by_word: dict[str, CommandSpec[Ctx]] = {}
        self._subs: dict[str, dict[str, CommandSpec[Ctx]]] = {}  # parent word -> sub-word -> row
        for spec in self.specs:
            if not spec.parent:
                _add_words(self._by_word, spec)
        for spec in self.specs:  # after every parent, whichever router registered it
            if spec.parent:
                parent = self._parent_of(spec)
                _add_words(self._subs.setdefault(parent.word, {}), spec)

    @classmethod
    def from_routers(
        cls, routers: Iterable[Router[Ctx]], fallback: Handler[Ctx] | None = None
    ) -> CommandTable[Ctx]:
        return cls((spec for router in routers for spec in router.specs), fallback)

    def lookup(self, word: str, args: str = "") -> Route[Ctx] | None:
        """`项目`, `登记 名称=…` -> the `/项目 登记` row with `名称=…`; `项目`, `12` -> `/项目` with `12`."""
        spec = self._by_word.get(word.lower())
        if spec is None:
            return None
        subs = self._subs.get(spec.word)
        sub_call = _SUB_WORD.match(args.strip()) if subs else None
        if subs and sub_call and (sub := subs.get(sub_call.group(1).lower())) is not None:
            return Route(sub, sub_call.group(2).strip())
        return Route(spec, args)

    def sub_commands(self, parent: CommandSpec[Ctx]) -> tuple[CommandSpec[Ctx], ...]:
        """A command's sub-command rows, in registration order."""
        return tuple(dict.fromkeys(self._subs.get(parent.word, {}).values()))

    def _parent_of(self, spec: CommandSpec[Ctx]) -> CommandSpec[Ctx]:
        parent = self._by_word.get(spec.parent.lower())
        if parent is None or parent.word != spec.parent:
            raise ValueError(f"sub-command {spec.name!r}: no command {spec.parent!r} to hang under")
        if parent.admin_only and not spec.admin_only:
            raise ValueError(
                f"sub-command {spec.name!r} of an admin-only command must be admin-only"
            )
        return parent


def _add_words(index: dict[str, CommandSpec[Ctx]], spec: CommandSpec[Ctx]) -> None:
    for word in spec.words:
        key = word.lower()
        if key in index:
            raise ValueError(f"command word {word!r} registered twice (/{spec.name})")
        index[key] = spec


async def _unknown_command(ctx: _Call) -> Reply:
    return replies.unknown_command(ctx.args)
