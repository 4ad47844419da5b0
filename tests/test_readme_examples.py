"""The README's worked examples are computed from the code and the records: a stale one fails here."""

from __future__ import annotations

import pytest

from tools import readme_examples as rx


def test_readme_examples_are_current() -> None:
    text = rx.README.read_text(encoding="utf-8")
    names = {m.group("name") for m in rx.BLOCK.finditer(text)}
    assert names == set(rx.EXAMPLES), "every example has its block in README.md, and only those"
    assert rx.regenerate(text) == text, "README.md examples are stale: run `python tools/readme_examples.py --write`"


def test_a_stale_example_is_detected() -> None:
    text = rx.README.read_text(encoding="utf-8")
    stale = text.replace("fd4a:1000:100::/52", "fd4a:1000:1::/56", 1)
    assert stale != text
    assert rx.regenerate(stale) != stale


def test_unknown_example_is_an_error() -> None:
    with pytest.raises(KeyError, match="unknown example 'nope'"):
        rx.regenerate("<!-- example:nope -->\n<!-- /example:nope -->")
