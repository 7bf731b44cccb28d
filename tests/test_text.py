"""triage_app.text: the one cleaning function (examples + hypothesis properties)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from triage_app.text import (
    CLEANING_NAME,
    CLEANING_VERSION,
    DEFAULT_OPTIONS,
    clean_text,
    cleaning_record,
    compose,
)

PROPS = settings(max_examples=150, deadline=None)

# --------------------------------------------------------------------------- clean_text examples


@pytest.mark.parametrize("raw,expected", [
    ("see https://intranet.example.com/a?b=1 now", "see url now"),
    ("or www.example.org/x please", "or url please"),
    ("mail bob.smith@example.co.uk today", "mail email today"),
    ("on XX/XX/2019 XXXX called about XX-XX-XXXX", "on called about"),
    ("ticket 123456789 and 0x1f2e3d4c5b6a79 closed", "ticket and closed"),
    ("line one\r\nline\ttwo\x00\x07three", "line one line two three"),
    ("  many     spaces  ", "many spaces"),
    ("ﬁle Ｆｕｌｌｗｉｄｔｈ", "file Fullwidth"),  # NFKC
    ("keep 2019 and 123456 and abc", "keep 2019 and 123456 and abc"),
])
def test_clean_text_examples(raw, expected):
    assert clean_text(raw) == expected


@pytest.mark.parametrize("value", [None, float("nan"), ""])
def test_clean_text_missing_values_are_empty(value):
    assert clean_text(value) == ""


def test_clean_text_non_strings_are_stringified():
    assert clean_text(42) == "42"
    assert clean_text(1.5) == "1.5"


def test_clean_text_options():
    raw = "Call https://x.io XXXX now"
    assert clean_text(raw, {"mask_urls": False}) == "Call https://x.io now"
    assert clean_text(raw, {"drop_masks": False}) == "Call url XXXX now"
    assert clean_text(raw, {"lowercase": True}) == "call url now"
    assert clean_text("abcdef", {"max_chars": 3}) == "abc"
    assert clean_text("y" * 50, {"max_chars": 0}) == "y" * 50  # 0 = no limit


def test_clean_text_never_longer_than_max_chars():
    # NFKC can expand ("ﬁ" -> "fi") and masking can add spaces ("(a@b.c)" -> "( email )")
    for raw in ["\ufb01" * 300, "(a@b.c)" * 100]:
        out = clean_text(raw, {"max_chars": 200})
        assert len(out) <= 200
        assert clean_text(out, {"max_chars": 200}) == out


def test_cleaning_record():
    rec = cleaning_record({"lowercase": True})
    assert rec["function"] == CLEANING_NAME and rec["version"] == CLEANING_VERSION
    assert rec["options"] == {**DEFAULT_OPTIONS, "lowercase": True}
    assert cleaning_record()["options"] == DEFAULT_OPTIONS


# --------------------------------------------------------------------------- compose examples


def test_compose_same_joins_title_and_body():
    assert compose("VPN down", "Cannot connect since 9am", None, "same") == (
        "VPN down. Cannot connect since 9am", "VPN down. Cannot connect since 9am")
    assert compose("VPN down", "", None, "same") == ("VPN down", "VPN down")
    assert compose(None, "body only", None, "same") == ("body only", "body only")


def test_compose_same_prefers_text():
    assert compose("t", "b", "whole ticket", "same") == ("whole ticket", "whole ticket")


def test_compose_split_routes_title_and_body():
    assert compose("VPN down", "Cannot connect", None, "split") == ("VPN down", "Cannot connect")
    assert compose("", "", "only text", "split") == ("", "only text")
    assert compose("title", "", "text is ignored", "split") == ("title", "")


def test_compose_unknown_routing():
    with pytest.raises(ValueError, match="unknown routing"):
        compose("a", "b", None, "both")


# --------------------------------------------------------------------------- properties

anything = st.one_of(st.text(), st.none(), st.floats(), st.integers(), st.booleans())
# text rich in the things clean_text rewrites
pieces = st.sampled_from(["XXXX", "XX/XX/2019", "xx-xx", "http://a.b/c", "www.x.y", "a@b.co",
                          "(a@b.co)", "1234567", "deadbeef1234cafe", "\ufb01", "\u00bd", " ",
                          "\n", "\t", "\x00", "-", "/", ".", "@", "é", "\u0301"])
messy = st.one_of(st.text(), st.lists(st.one_of(pieces, st.text(max_size=3)), max_size=30).map("".join))
options = st.fixed_dictionaries({
    "lowercase": st.booleans(), "mask_urls": st.booleans(), "mask_emails": st.booleans(),
    "drop_masks": st.booleans(), "drop_garbage": st.booleans(),
    "max_chars": st.one_of(st.just(0), st.integers(1, 60), st.just(20000)),
})


@PROPS
@given(anything, st.one_of(st.none(), options))
def test_clean_text_never_crashes(value, opts):
    out = clean_text(value, opts)
    assert isinstance(out, str)
    assert out == out.strip() and "  " not in out and "\n" not in out
    if isinstance(value, float) and math.isnan(value):
        assert out == ""


@PROPS
@given(messy)
def test_clean_text_is_idempotent(text):
    once = clean_text(text)
    assert clean_text(once) == once


@PROPS
@given(messy, options)
def test_clean_text_is_idempotent_with_any_options(text, opts):
    once = clean_text(text, opts)
    assert clean_text(once, opts) == once
    if opts["max_chars"]:
        assert len(once) <= opts["max_chars"]


@PROPS
@given(messy, messy, st.one_of(st.none(), messy))
def test_compose_same_feeds_both_towers_the_same(title, body, text):
    a, b = compose(title, body, text, "same")
    assert a == b
    if clean_text(text):
        assert a == clean_text(text)
    elif clean_text(title) and clean_text(body):
        assert a == f"{clean_text(title)}. {clean_text(body)}"
    else:
        assert a == clean_text(title) + clean_text(body)


@PROPS
@given(messy, messy, st.one_of(st.none(), messy))
def test_compose_split_routes_title_to_a_and_body_to_b(title, body, text):
    a, b = compose(title, body, text, "split")
    t, bo, x = clean_text(title), clean_text(body), clean_text(text)
    if not t and not bo:
        assert (a, b) == ("", x)
    else:
        assert (a, b) == (t, bo)
