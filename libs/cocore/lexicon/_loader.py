"""Find and read lexicon JSON files, checking each document's envelope (id, version, defs)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from cocore.syntax import InvalidSyntaxError, parse_nsid

from ._site import Site

_DEF_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]*")
_PRIMARY = frozenset({"record", "query", "procedure", "subscription"})

Documents = dict[str, tuple[Site, dict[str, Any]]]


def default_directory() -> Path:
    """The lexicons shipped in the wheel, or the repo's `lexicons/` in an editable install."""
    here = Path(__file__).resolve().parent
    packaged = here / "_data"
    return packaged if packaged.is_dir() else here.parents[2] / "lexicons"


def read_documents(directory: Path) -> Documents:
    """Every `*.json` under `directory`, keyed by lexicon id; malformed files raise."""
    files = sorted(directory.rglob("*.json"))
    if not files:
        raise Site(str(directory), "").fail("no lexicon files found")
    docs: Documents = {}
    for path in files:
        site, doc = _read(path, directory)
        if site.nsid in docs:
            raise site.at("id").fail(f"{site.nsid} is also defined in {docs[site.nsid][0].file}")
        docs[site.nsid] = (site, doc)
    return docs


def _read(path: Path, root: Path) -> tuple[Site, dict[str, Any]]:
    site = Site(str(path), "")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise site.fail(f"cannot read: {e}") from e
    except json.JSONDecodeError as e:
        raise site.fail(f"not JSON (line {e.lineno}, column {e.colno}: {e.msg})") from e
    doc = site.obj(doc)
    if doc.get("lexicon") != 1:
        raise site.at("lexicon").fail("expected lexicon version 1")
    nsid = site.req_str(doc, "id")
    try:
        parse_nsid(nsid)
    except InvalidSyntaxError as e:
        raise site.at("id").fail(e.message) from e
    expected = ".".join(path.relative_to(root).with_suffix("").parts)
    if nsid != expected:
        raise site.at("id").fail(f"id {nsid!r} does not match the file's path ({expected})")
    site = Site(str(path), nsid)
    _check_defs(site, doc)
    return site, doc


def _check_defs(site: Site, doc: dict[str, Any]) -> None:
    defs = site.at("defs").obj(doc.get("defs"))
    if not defs:
        raise site.at("defs").fail("a lexicon needs at least one def")
    for name, node in defs.items():
        def_site = site.at("defs").at(name)
        if not _DEF_NAME.fullmatch(name):
            raise def_site.fail("def names are letters and digits, starting with a letter")
        kind = def_site.req_str(def_site.obj(node), "type")
        if kind in _PRIMARY and name != "main":
            raise def_site.fail(f"a {kind} must be the main def")
