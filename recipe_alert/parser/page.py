"""The page as ASCII-compatible bytes, its encoding, and its lxml tree on demand."""

from __future__ import annotations

import codecs
import re
from functools import cached_property

from lxml import etree

from recipe_alert.errors import NotARecipe

from .tree import Marks

_CHARSET_META = re.compile(rb"""<meta\b[^>]{0,512}?charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_PRESCAN_BYTES = 16 * 1024
# Browsers read these labels as windows-1252, so pages written for them do too.
_READ_AS_CP1252 = {"ascii", "iso8859-1", "cp1252"}


class Page:
    """The page as ASCII-compatible bytes plus how to decode pieces of it."""

    def __init__(self, page: bytes | str):
        if isinstance(page, str):
            self.raw, self.encoding = page.lstrip("\ufeff").encode("utf-8", "surrogatepass"), "utf-8"
        elif not isinstance(page, (bytes, bytearray, memoryview)):
            raise NotARecipe(f"not a page: {type(page).__name__}")
        else:
            self.raw, self.encoding = _sniff_encoding(bytes(page))

    def decode(self, chunk: bytes) -> str:
        if self.encoding is not None:
            return chunk.decode(self.encoding, "replace")
        try:  # undeclared: UTF-8 if it is valid, else what browsers assume
            return chunk.decode("utf-8")
        except UnicodeDecodeError:
            return chunk.decode("cp1252", "replace")

    @cached_property
    def tree(self):
        """The lxml tree (~5 ms per MB), built on first use; None for an empty page."""
        raw = self.raw
        if self.encoding != "utf-8":
            raw = self.decode(raw).encode("utf-8", "surrogatepass")
        return etree.fromstring(raw, _html_parser())

    @cached_property
    def marks(self) -> Marks | None:
        """What the slow path reads (~4 ms per MB more); None for an empty or comment-only page."""
        return None if self.tree is None else Marks(self.tree)


def _sniff_encoding(raw: bytes) -> tuple[bytes, str | None]:
    """The page as ASCII-compatible bytes and its encoding (None: undeclared)."""
    if raw.startswith(codecs.BOM_UTF8):
        return raw[3:], "utf-8"
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if raw.startswith(bom):  # byte searches need ASCII-compatible bytes
            return raw[2:].decode(name, "replace").encode("utf-8", "surrogatepass"), "utf-8"
    declared = _CHARSET_META.search(raw, 0, _PRESCAN_BYTES)
    return raw, _usable_encoding(declared.group(1).decode("ascii")) if declared else None


def _usable_encoding(label: str) -> str | None:
    try:
        name = codecs.lookup(label).name
        if name.startswith(("utf-16", "utf-32")):
            return "utf-8"  # a page we can read as bytes is not really UTF-16
        if name in _READ_AS_CP1252:
            return "cp1252"
        # Reject non-text codecs (base64, rot13) and non-ASCII-compatible ones.
        if b"<meta x='y'>".decode(name) != "<meta x='y'>":
            return None
        return name
    except Exception:  # LookupError, or a codec that fails on anything
        return None


def _html_parser() -> etree.HTMLParser:
    # A new one each time: lxml parsers must not be shared between threads.
    # Plain etree, not lxml.html: its per-element Python class lookup doubles the cost.
    # collect_ids=False: nothing looks elements up by id, and the index costs ~4% of a parse.
    return etree.HTMLParser(encoding="utf-8", remove_comments=True, remove_pis=True, collect_ids=False)
