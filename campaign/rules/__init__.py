"""The scoring-rule kinds: one module and one class each (a `campaign.model.Rule`), listed in
RULE_KINDS, the one table the loader, the key check and docs/campaign-file.md read.

A new kind is a module here and its line in the table.
"""

from __future__ import annotations

from campaign.model import Rule
from campaign.rules.completion import CompletionRule
from campaign.rules.excess import ExcessRule
from campaign.rules.ratio import RatioRule
from campaign.rules.share import ShareRule

# In this order in docs/campaign-file.md and in the loader's "one of …".
RULE_KINDS: dict[str, type[Rule]] = {
    kind.kind: kind for kind in (CompletionRule, ExcessRule, ShareRule, RatioRule)
}

__all__ = ["RULE_KINDS", "CompletionRule", "ExcessRule", "RatioRule", "ShareRule"]
