"""Every user-visible string of the chat commands, one module per feature: short Simplified Chinese
markdown within DingTalk's documented subset (headings, bold, lists, quotes; no tables), sized for a
phone. Bulletin bodies are bulletins/texts.py's; the framework's own replies are chat/replies.py's.

The names below are re-exported so that `from handlers import texts; texts.report_recorded(...)` keeps
working; the project, campaign and bulletin-command modules are imported by name.
"""

from handlers.texts.admin import BIND_EXAMPLE as BIND_EXAMPLE
from handlers.texts.admin import ROLE_LABELS as ROLE_LABELS
from handlers.texts.admin import bind_group_in_a_group as bind_group_in_a_group
from handlers.texts.admin import bind_member_missing as bind_member_missing
from handlers.texts.admin import bind_mention_not_resolved as bind_mention_not_resolved
from handlers.texts.admin import bind_target_missing as bind_target_missing
from handlers.texts.admin import binding_summary as binding_summary
from handlers.texts.admin import bound as bound
from handlers.texts.admin import deputy_expiry_missing as deputy_expiry_missing
from handlers.texts.admin import deputy_expiry_past as deputy_expiry_past
from handlers.texts.admin import deputy_expiry_too_far as deputy_expiry_too_far
from handlers.texts.admin import group_bound as group_bound
from handlers.texts.admin import unknown_bind_target as unknown_bind_target
from handlers.texts.admin import unknown_group_campaign as unknown_group_campaign
from handlers.texts.common import report_example as report_example
from handlers.texts.common import unit_names as unit_names
from handlers.texts.common import unit_required as unit_required
from handlers.texts.common import unknown_unit as unknown_unit
from handlers.texts.reports import above_ceiling as above_ceiling
from handlers.texts.reports import admin_names_unit as admin_names_unit
from handlers.texts.reports import bad_amount as bad_amount
from handlers.texts.reports import before_window as before_window
from handlers.texts.reports import beyond_cents as beyond_cents
from handlers.texts.reports import carried_source as carried_source
from handlers.texts.reports import computed_metric as computed_metric
from handlers.texts.reports import confirm_command as confirm_command
from handlers.texts.reports import confirm_unit_command as confirm_unit_command
from handlers.texts.reports import correct_example as correct_example
from handlers.texts.reports import correction_held as correction_held
from handlers.texts.reports import correction_published as correction_published
from handlers.texts.reports import correction_reason_missing as correction_reason_missing
from handlers.texts.reports import correction_recorded as correction_recorded
from handlers.texts.reports import correction_unchanged as correction_unchanged
from handlers.texts.reports import correction_values_missing as correction_values_missing
from handlers.texts.reports import field_names as field_names
from handlers.texts.reports import figures_summary as figures_summary
from handlers.texts.reports import form_refused as form_refused
from handlers.texts.reports import hold_expired as hold_expired
from handlers.texts.reports import hold_superseded as hold_superseded
from handlers.texts.reports import implausible as implausible
from handlers.texts.reports import jump_held as jump_held
from handlers.texts.reports import lower_than_before as lower_than_before
from handlers.texts.reports import missing_number as missing_number
from handlers.texts.reports import not_a_member as not_a_member
from handlers.texts.reports import not_retyped as not_retyped
from handlers.texts.reports import not_your_unit as not_your_unit
from handlers.texts.reports import notes_kept as notes_kept
from handlers.texts.reports import nothing_held as nothing_held
from handlers.texts.reports import nothing_held_for as nothing_held_for
from handlers.texts.reports import nothing_posted as nothing_posted
from handlers.texts.reports import nothing_to_correct as nothing_to_correct
from handlers.texts.reports import post_refused as post_refused
from handlers.texts.reports import posted_twice as posted_twice
from handlers.texts.reports import report_recorded as report_recorded
from handlers.texts.reports import share_above_whole as share_above_whole
from handlers.texts.reports import text_too_long as text_too_long
from handlers.texts.reports import unknown_field as unknown_field
from handlers.texts.reports import unknown_report_unit as unknown_report_unit
from handlers.texts.reports import unreadable_prefix as unreadable_prefix
from handlers.texts.reports import window_closed as window_closed
from handlers.texts.reports import with_replaced_note as with_replaced_note
from handlers.texts.standings import PROGRESS_EXAMPLE as PROGRESS_EXAMPLE
from handlers.texts.standings import as_of_line as as_of_line
from handlers.texts.standings import interim_phase as interim_phase
from handlers.texts.standings import metric_lines as metric_lines
from handlers.texts.standings import missing_reply as missing_reply
from handlers.texts.standings import moment_not_reached as moment_not_reached
from handlers.texts.standings import progress_reply as progress_reply
from handlers.texts.standings import rank_phrase as rank_phrase
from handlers.texts.standings import standings_reply as standings_reply
from handlers.texts.standings import standings_text as standings_text
from handlers.texts.usage import ROLE_ADMIN as ROLE_ADMIN
from handlers.texts.usage import ROLE_EVERYONE as ROLE_EVERYONE
from handlers.texts.usage import ROLE_HEAD as ROLE_HEAD
from handlers.texts.usage import ROLES as ROLES
from handlers.texts.usage import HelpGroup as HelpGroup
from handlers.texts.usage import HelpRow as HelpRow
from handlers.texts.usage import full_help_reply as full_help_reply
from handlers.texts.usage import help_reply as help_reply
from handlers.texts.usage import usage_line as usage_line
