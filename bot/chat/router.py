"""Command registration: a Router per handler module, collected into one CommandTable at start."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.chat import replies

if TYPE_CHECKING:
    from bot.chat.context import CommandContext
    from bot.messages import Reply

Handler = Callable[["CommandContext"], Awaitable["Reply"]]


@dataclass(frozen=True, slots=True)
class CommandSpec:
    words: tuple[str, ...]  # Chinese word first, then ASCII aliases
    help: str
    usage: str
    handler: Handler
    admin_only: bool = False

    @property
    def word(self) -> str:
        return self.words[0]


class Router:
    def __init__(self, name: str) -> None:
        self.name = name
        self.specs: list[CommandSpec] = []

    def command(
        self, *words: str, help: str, usage: str = "", admin_only: bool = False
    ) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.specs.append(
                CommandSpec(words, help, usage or f"/{words[0]}", handler, admin_only)
            )
            return handler

        return register


class CommandTable:
    """Every command word; `fallback` answers a message that names none (else a generic hint)."""

    def __init__(self, specs: Iterable[CommandSpec], fallback: Handler | None = None) -> None:
        self.specs = tuple(specs)
        self.fallback: Handler = fallback or _unknown_command
        self._by_word: dict[str, CommandSpec] = {}
        for spec in self.specs:
            for word in spec.words:
                key = word.lower()
                if key in self._by_word:
                    raise ValueError(f"command word {word!r} registered twice")
                self._by_word[key] = spec

    @classmethod
    def from_routers(
        cls, routers: Iterable[Router], fallback: Handler | None = None
    ) -> CommandTable:
        return cls((spec for router in routers for spec in router.specs), fallback)

    def lookup(self, word: str) -> CommandSpec | None:
        return self._by_word.get(word.lower())


async def _unknown_command(ctx: CommandContext) -> Reply:
    return replies.unknown_command(ctx.args)
