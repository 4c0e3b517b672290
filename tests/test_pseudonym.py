"""Keyed pseudonyms: golden values, stability for one key, difference across keys, key loading."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from adherence.pseudonym import (
    device_pseudonym,
    key_id,
    load_key,
    pseudonym,
    session_pseudonym,
    subject_pseudonym,
)
from devices.errors import ConfigError

KEY = b"0123456789abcdef0123456789abcdef"
OTHER = b"fedcba9876543210fedcba9876543210"


class TestPseudonym:
    def test_golden_values(self) -> None:
        # HMAC-SHA256(KEY, b"subject:P001") = f9d30b212fe36938 0f03... (computed once, frozen)
        assert subject_pseudonym(KEY, "P001") == "s_f9d30b212fe36938"
        assert session_pseudonym(KEY, "P001") == "x_46b745f3a1fe7ff1"
        assert device_pseudonym(KEY, "AA:BB:CC:DD:EE:FF") == "d_04b51a77cfbd0a49"
        assert key_id(KEY) == "3eb1bd43"

    def test_stable_for_one_key(self) -> None:
        assert subject_pseudonym(KEY, "P002") == subject_pseudonym(bytes(KEY), "P002")

    def test_differs_across_keys_ids_and_namespaces(self) -> None:
        ids = ["P001", "P002", "P003", "p001", ""]
        a = [subject_pseudonym(KEY, i) for i in ids]
        b = [subject_pseudonym(OTHER, i) for i in ids]
        assert len(set(a)) == len(ids)
        assert not set(a) & set(b)
        # the namespace enters the MAC: not only the prefix differs
        assert subject_pseudonym(KEY, "X")[2:] != device_pseudonym(KEY, "X")[2:]

    def test_shape(self) -> None:
        assert re.fullmatch(r"s_[0-9a-f]{16}", subject_pseudonym(KEY, "anything at all"))

    def test_short_key_refused(self) -> None:
        with pytest.raises(ConfigError, match="too short"):
            subject_pseudonym(b"short", "P001")

    def test_unknown_namespace_refused(self) -> None:
        with pytest.raises(ConfigError, match="unknown namespace"):
            pseudonym(KEY, "name", "P001")


class TestLoadKey:
    def test_file_strips_newline(self, tmp_path: Path) -> None:
        f = tmp_path / "key"
        f.write_bytes(KEY + b"\n")
        assert load_key(key_file=f) == KEY

    def test_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ADH_TEST_KEY", KEY.decode())
        assert load_key(key_env="ADH_TEST_KEY") == KEY

    def test_neither_or_both_refused(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="always pseudonymised"):
            load_key()
        with pytest.raises(ConfigError, match="exactly one"):
            load_key(key_file=tmp_path / "k", key_env="X")

    def test_missing_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot read"):
            load_key(key_file=tmp_path / "nope")

    def test_unset_env(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv("ADH_TEST_KEY_UNSET", raising=False)
        with pytest.raises(ConfigError, match="not set"):
            load_key(key_env="ADH_TEST_KEY_UNSET")

    def test_short_file_key(self, tmp_path: Path) -> None:
        f = tmp_path / "key"
        f.write_bytes(b"abc\n")
        with pytest.raises(ConfigError, match="too short"):
            load_key(key_file=f)
