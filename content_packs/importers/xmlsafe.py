"""Parse XML from an uploaded file without entity tricks: DOCTYPEs with entities are refused."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET  # entities refused below; no external fetch

from edge_server.base.errors import N_

from .errors import BrokenFile

_ENTITY = re.compile(rb"<!ENTITY", re.I)


def parse_xml(data: bytes, label: str) -> ET.Element:
    """Return the root element of ``data``.

    Raises:
        BrokenFile: not well-formed XML, or it declares entities (billion laughs, XXE).
    """
    if _ENTITY.search(data[:65536]):
        raise BrokenFile(N_("%(file)s declares XML entities, which Kru refuses"), file=label)
    try:
        return ET.fromstring(data)  # noqa: S314 - entity declarations refused above
    except ET.ParseError as exc:
        raise BrokenFile(
            N_("%(file)s is not well-formed XML: %(problem)s"), file=label, problem=str(exc)
        ) from exc


def local(tag: str) -> str:
    """Return an element's tag without its namespace."""
    return tag.rsplit("}", 1)[-1]


def children(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el if local(c.tag) == name]


def child(el: ET.Element, name: str) -> ET.Element | None:
    return next((c for c in el if local(c.tag) == name), None)


def descendants(el: ET.Element, name: str) -> list[ET.Element]:
    return [c for c in el.iter() if local(c.tag) == name]
