"""Text measurements the validators need: UTF-8 length, grapheme count, base64 byte length."""

from __future__ import annotations

import binascii
import unicodedata

_ZWJ = "\u200d"
_EXTEND_CATEGORIES = frozenset({"Mn", "Me", "Mc"})


def utf8_length(s: str) -> int:
    """Length in UTF-8 bytes (lone surrogates count as 3, as their WTF-8 form would)."""
    return len(s) if s.isascii() else len(s.encode("utf-8", "surrogatepass"))


def has_lone_surrogate(s: str) -> bool:
    """True when the string cannot be encoded as UTF-8 (a JSON `\\ud800` escape got through)."""
    if s.isascii():
        return False
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _extends(ch: str) -> bool:
    # Marks, joiners, variation selectors, emoji skin tones and tag characters never start a
    # grapheme cluster; this covers what UAX #29 does for real text without its full tables.
    o = ord(ch)
    return (
        unicodedata.category(ch) in _EXTEND_CATEGORIES
        or ch == _ZWJ
        or 0xFE00 <= o <= 0xFE0F
        or 0x1F3FB <= o <= 0x1F3FF
        or 0xE0020 <= o <= 0xE007F
        or 0xE0100 <= o <= 0xE01EF
    )


def _regional_indicator(ch: str) -> bool:
    return 0x1F1E6 <= ord(ch) <= 0x1F1FF


def grapheme_count(s: str) -> int:
    """Approximate extended grapheme clusters: CRLF, combining/ZWJ sequences, flag pairs."""
    if s.isascii():
        return len(s) - s.count("\r\n")
    count = 0
    prev = ""
    pending_flag = False
    for ch in s:
        if prev and (_extends(ch) or prev == _ZWJ or (prev == "\r" and ch == "\n")):
            prev = ch
            continue
        if _regional_indicator(ch):
            if pending_flag:  # second half of a flag pair joins the first
                pending_flag = False
                prev = ch
                continue
            pending_flag = True
        else:
            pending_flag = False
        count += 1
        prev = ch
    return count


def base64_length(s: str) -> int | None:
    """Decoded length of standard base64 (RFC 4648 §4), or None if it is not base64.

    Padding is optional: the atproto `$bytes` form never pads, and the reference exchange
    writes `processorReference: "ledger"`. The URL-safe alphabet and whitespace are refused.
    """
    missing = -len(s) % 4
    if missing == 3:
        return None
    try:
        return len(binascii.a2b_base64(s + "=" * missing, strict_mode=True))
    except ValueError:  # binascii.Error, or a non-ASCII str
        return None
