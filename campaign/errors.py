"""The error a broken campaign file raises, shared by the loader and the section parsers."""

from __future__ import annotations

from pathlib import Path


class CampaignError(ValueError):
    def __init__(self, path: Path | str, key: str, expected: str, line: int | None = None) -> None:
        where = f"{path}, line {line}" if line else str(path)
        super().__init__(f"{where}: {key}: expected {expected}")
        self.path, self.key, self.expected, self.line = str(path), key, expected, line
