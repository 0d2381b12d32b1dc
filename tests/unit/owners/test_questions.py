"""The /newchannel and /edit table: every group of /edit writes its own settings, and together they
are every setting an owner may set."""

from __future__ import annotations

from telepay.channels.settings import SETTING_FIELDS
from telepay.owners.questions import GROUP_FIELDS, GROUPS


def test_each_edit_group_writes_its_own_settings_and_all_of_them_together() -> None:
    assert set(GROUP_FIELDS) == set(GROUPS)
    written = [name for fields in GROUP_FIELDS.values() for name in fields]
    assert sorted(written) == sorted(SETTING_FIELDS)  # each setting in exactly one group
