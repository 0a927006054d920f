"""The error a broken campaign file raises, shared by the loader and the section parsers."""

from __future__ import annotations

from pathlib import Path


class CampaignError(ValueError):
    def __init__(self, path: Path | str, key: str, expected: str) -> None:
        super().__init__(f"{path}: {key}: expected {expected}")
        self.path, self.key, self.expected = str(path), key, expected
