"""SCORM 1.2 / 2004 packages: read and check imsmanifest.xml (organisations, SCOs, launch
files), so a package is refused with the problem named; ``scorm_app`` makes the app that
plays a valid one."""

from __future__ import annotations

import xml.etree.ElementTree as ET  # parsing goes through xmlsafe
import zipfile
from dataclasses import dataclass

from edge_server.base.errors import N_

from .errors import BrokenFile
from .xmlsafe import child, children, descendants, parse_xml

MANIFEST = "imsmanifest.xml"


@dataclass(frozen=True)
class Sco:
    identifier: str
    title: str
    href: str


def version(root: ET.Element, raw: bytes) -> str:
    """Return "1.2" or "2004" from <schemaversion>, else from the namespaces declared."""
    meta = child(root, "metadata")
    stated = child(meta, "schemaversion") if meta is not None else None
    text = (stated.text or "").strip() if stated is not None else ""
    if text == "1.2":
        return "1.2"
    if text:
        return "2004"
    names_2004 = (b"adlcp_v1p3", b"adlseq_v1p3", b"adlnav_v1p3", b"imsss")
    return "2004" if any(name in raw for name in names_2004) else "1.2"


def _title(el: ET.Element) -> str:
    title = child(el, "title")
    return " ".join((title.text or "").split()) if title is not None else ""


def title(root: ET.Element) -> str:
    """Return the title of the default organisation ("" if it has none)."""
    orgs_el = child(root, "organizations")
    orgs = children(orgs_el, "organization") if orgs_el is not None else []
    default = orgs_el.get("default") if orgs_el is not None else None
    org = next((o for o in orgs if o.get("identifier") == default), orgs[0] if orgs else None)
    return _title(org) if org is not None else ""


def scos(zf: zipfile.ZipFile, root: ET.Element) -> list[Sco]:
    """Return the launchable items of the default organisation, in order.

    Raises:
        BrokenFile: no organisation, an organisation without identifier, an item naming a
            missing resource, a resource without a launch file, or a launch file missing.
    """
    orgs_el = child(root, "organizations")
    orgs = children(orgs_el, "organization") if orgs_el is not None else []
    if not orgs:
        raise BrokenFile(N_("%(file)s has no organization"), file=MANIFEST)
    for org in orgs:
        if not org.get("identifier"):
            raise BrokenFile(N_("%(file)s: an organization has no identifier"), file=MANIFEST)
    default = orgs_el.get("default") if orgs_el is not None else None
    org = next((o for o in orgs if o.get("identifier") == default), orgs[0])
    resources = {r.get("identifier"): r for r in descendants(root, "resource")}
    names = set(zf.namelist())
    found: list[Sco] = []
    for item in descendants(org, "item"):
        ref = item.get("identifierref")
        if not ref:
            continue
        res = resources.get(ref)
        if res is None:
            raise BrokenFile(
                N_("%(file)s: item %(item)s names resource %(ref)s, which is not there"),
                file=MANIFEST,
                item=item.get("identifier", ""),
                ref=ref,
            )
        href = (res.get("href") or "").split("?")[0].split("#")[0]
        if not href:
            raise BrokenFile(
                N_("%(file)s: resource %(ref)s has no launch file (href)"), file=MANIFEST, ref=ref
            )
        base = (res.get("{http://www.w3.org/XML/1998/namespace}base") or "").lstrip("/")
        if base + href not in names:
            raise BrokenFile(
                N_("%(file)s: the launch file %(href)s is not in the package"),
                file=MANIFEST,
                href=base + href,
            )
        found.append(Sco(item.get("identifier", ""), _title(item), base + href))
    if not found:
        raise BrokenFile(N_("%(file)s names nothing to launch"), file=MANIFEST)
    return found


def check(zf: zipfile.ZipFile) -> tuple[str, list[Sco]]:
    """Return the SCORM version and the SCOs of a checked package.

    Raises:
        BrokenFile: the manifest is not XML or breaks the rules in ``scos``.
    """
    raw = zf.read(MANIFEST)
    root = parse_xml(raw, MANIFEST)
    return version(root, raw), scos(zf, root)
