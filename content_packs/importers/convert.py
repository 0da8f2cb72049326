"""``import_file``: tell a file's format from its content and turn it into a pack zip.

Question banks (GIFT, Aiken, Moodle XML, QTI 2.1 items and QTI packages) become quiz
items; H5P and SCORM packages html5 apps; Common Cartridges and Moodle backups
courses. cmi5/xAPI packages are
recognised and refused with the reason named (see docs/content-packs.md, "Bring in existing
content"). Nothing is written unless the whole pack passes the pack checks.
"""

from __future__ import annotations

import zipfile
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath

from edge_server.base.errors import N_

from ..build import slugify
from ..errors import InvalidPack
from ..zipsafe import Limits, entry_problems, read_member
from . import (
    aiken,
    cartridge,
    gift,
    h5p,
    h5p_app,
    moodle_backup,
    moodle_xml,
    qti21,
    scorm,
    scorm_app,
)
from .errors import BrokenFile, NotSupported, UnknownFormat
from .pack import file_hash, quiz_items, stable_id, stable_version, write_import
from .report import ImportReport
from .xmlsafe import descendants, local, parse_xml

MAX_TEXT = 20 * 1024 * 1024  # a question bank larger than this is not a question bank
MAX_MEMBER = 256 * 1024 * 1024  # one file of a Moodle backup


def _decode(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")  # with or without a byte order mark
    except UnicodeDecodeError as exc:
        raise BrokenFile(
            N_("%(file)s is not UTF-8 text (byte %(offset)s); save it as UTF-8"),
            file=label,
            offset=exc.start,
        ) from exc


def _limits() -> Limits:
    from edge_server.base.settings import load_settings

    return Limits.from_settings(load_settings(environ={}))


def _member(zf: zipfile.ZipFile, name: str) -> bytes:
    return b"".join(read_member(zf, name, MAX_TEXT))


def _text_groups(data: bytes, label: str, report: ImportReport, default: str) -> list:
    if len(data) > MAX_TEXT:
        raise BrokenFile(N_("%(file)s is too large for a question file"), file=label)
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        root = parse_xml(data, label)
        tag = local(root.tag)
        if tag == "quiz":
            report.format = "Moodle XML"
            return moodle_xml.parse(root, report, default)
        if tag == "assessmentItem":
            report.format = "QTI 2.1 item"
            q = qti21.item(root, report, "item 1")
            return [(root.get("title") or default, [q] if q else [])]
        if tag == "assessmentTest":
            qti21.check_test(root, label)
        raise UnknownFormat(
            N_("%(file)s is XML (%(tag)s) but not a format Kru can import"), file=label, tag=tag
        )
    text = _decode(data, label)
    if "{" in text and "}" in text:
        report.format = "GIFT"
        return gift.parse(text, report, default)
    if aiken.looks_like(text):
        report.format = "Aiken"
        return aiken.parse(text, report, default)
    raise UnknownFormat(
        N_("%(file)s is not a format Kru can import (GIFT, Aiken, Moodle XML, QTI, H5P, SCORM)"),
        file=label,
    )


def _qti_package(zf: zipfile.ZipFile, report: ImportReport, default: str) -> list:
    root = parse_xml(_member(zf, "imsmanifest.xml"), "imsmanifest.xml")
    questions = []
    n = 0
    for res in descendants(root, "resource"):
        if not res.get("type", "").startswith("imsqti_item"):
            continue
        href = res.get("href", "")
        n += 1
        if href not in zf.namelist():
            report.skip(f"item {n} ({href})", "the file is not in the package")
            continue
        item_root = parse_xml(_member(zf, href), href)
        if (q := qti21.item(item_root, report, f"item {n}")) is not None:
            questions.append(q)
    return [(default, questions)]


def _zip_kind(zf: zipfile.ZipFile, label: str) -> str:
    names = set(zf.namelist())
    if "h5p.json" in names:
        return "h5p"
    if "cmi5.xml" in names:
        return "cmi5"
    if "tincan.xml" in names:
        return "xapi"
    if "imsmanifest.xml" in names:
        root = parse_xml(_member(zf, "imsmanifest.xml"), "imsmanifest.xml")
        text = " ".join(
            [
                root.tag,
                *root.attrib.values(),
                *(r.get("type", "") for r in descendants(root, "resource")),
            ]
        )
        if "imscc" in text or "imsccv1" in text:
            return "cc"
        if any(r.get("type", "").startswith("imsqti_item") for r in descendants(root, "resource")):
            return "qti"
        return "scorm"
    if "moodle_backup.xml" in names:
        return "mbz"
    raise UnknownFormat(
        N_("%(file)s is a zip without h5p.json, imsmanifest.xml, cmi5.xml or tincan.xml"),
        file=label,
    )


def _scorm(zf: zipfile.ZipFile, report: ImportReport, default: str) -> _Converted:
    """Return a checked SCORM package as html5 items, one per SCO, sharing one app zip.

    Raises:
        BrokenFile: the manifest breaks a rule (see ``scorm.check``).
    """
    kind, found = scorm.check(zf)
    root = parse_xml(_member(zf, scorm.MANIFEST), scorm.MANIFEST)
    report.format = f"SCORM {kind}"
    app = scorm_app.app_zip(zf, kind, found)
    items, used = [], set()
    for n, sco in enumerate(found, 1):
        slug = slugify(sco.identifier or f"sco-{n}")
        while slug in used:
            slug = f"{slug}-{n}"
        used.add(slug)
        items.append(
            {
                "slug": slug,
                "type": "html5",
                "title": {"km": (sco.title or sco.href)[:300]},
                "file": "scorm.zip",
                "entry": sco.href,
                "scorm": kind,
            }
        )
        report.convert(f"html5 {slug}: SCO {sco.href} with the SCORM {kind} run time")
    return _Converted(
        items,
        {"scorm.zip": app},
        scorm.title(root) or default,
        own_id=root.get("identifier"),
        own_version=root.get("version"),
    )


REFUSED = {
    "cmi5": N_(
        "cmi5 packages need an xAPI learning record store, which Kru does not run; ask for "
        "a SCORM or H5P export of the course"
    ),
    "xapi": N_(
        "xAPI (Tin Can) packages need a learning record store, which Kru does not run; ask "
        "for a SCORM or H5P export of the course"
    ),
}


def _moodle_backup(members: dict, label: str, report: ImportReport, default: str) -> _Converted:
    """Return a Moodle backup's course.

    Raises:
        BrokenFile: the backup holds nothing Kru can use (the first reasons named).
    """
    report.format = "Moodle backup"
    modules, files, title, own_id = moodle_backup.convert(members, report)
    if not any(items for _, _, items in modules):
        why = "; ".join(f"{what}: {reason}" for what, reason in report.skipped[:3])
        raise BrokenFile(
            N_("%(file)s holds nothing Kru can use (%(why)s)"), file=label, why=why or "-"
        )
    return _Converted([], files, title or default, modules, own_id=own_id)


class _Converted(Exception):  # carries a finished conversion, not an error
    """Items and files of a package that is not a question bank."""

    def __init__(
        self,
        items: list[dict],
        files: dict[str, bytes] | dict[str, bytes | Path],
        title: str,
        modules: list | None = None,
        own_id: str | None = None,
        own_version: str | None = None,
    ) -> None:
        super().__init__(title)
        self.items, self.files, self.title = items, dict(files), title
        self.modules = modules
        self.own_id, self.own_version = own_id, own_version


def _from_zip(path: Path, label: str, report: ImportReport, default: str) -> list:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise BrokenFile(N_("%(file)s is a damaged zip file"), file=label) from exc
    with zf:
        problems = entry_problems(zf, _limits(), label)
        if problems:
            raise InvalidPack(problems)
        kind = _zip_kind(zf, label)
        if kind == "qti":
            report.format = "QTI 2.1 package"
            return _qti_package(zf, report, default)
        if kind == "cc":
            report.format = "Common Cartridge"
            modules, files, title = cartridge.convert(zf, report)
            if not any(items for _, _, items in modules):
                why = "; ".join(f"{what}: {reason}" for what, reason in report.skipped[:3])
                raise BrokenFile(
                    N_("%(file)s holds nothing Kru can use (%(why)s)"), file=label, why=why or "-"
                )
            raise _Converted([], files, title or default, modules)
        if kind == "h5p":
            meta = h5p.check(zf)
            report.format = f"H5P ({meta['mainLibrary']})"
            title = str(meta.get("title") or default)
            slug = slugify(default)
            report.convert(f"html5 {slug}: {meta['mainLibrary']} played by h5p-standalone")
            app = h5p_app.app_zip(zf, title, str(meta.get("language") or "km"))
            raise _Converted(
                [
                    {
                        "slug": slug,
                        "type": "html5",
                        "title": {"km": title[:300]},
                        "file": f"{slug}.zip",
                        "entry": "index.html",
                    }
                ],
                {f"{slug}.zip": app},
                title,
            )
        if kind == "scorm":
            raise _scorm(zf, report, default)
        if kind == "mbz":  # backups of Moodle 2.0-2.5 are zips
            names = [i.filename for i in zf.infolist() if not i.is_dir()]
            members = {n: (lambda n=n: b"".join(read_member(zf, n, MAX_MEMBER))) for n in names}
            raise _moodle_backup(members, label, report, default)
        raise NotSupported(REFUSED[kind])


def import_file(
    path: str | Path,
    out: str | Path,
    name: str | None = None,
    when: datetime | None = None,
    open_course: bool = False,
) -> ImportReport:
    """Turn the file ``path`` into the pack zip ``out``; return the report of the import.

    ``name`` is the file's original name (an upload's), ``when`` its modification time;
    both default to the file's own. ``open_course``: every learner of the site sees the
    course (else it is assigned to cohorts).

    Raises:
        UnknownFormat: the file is none of the formats Kru reads.
        BrokenFile: it is damaged or breaks its format (the message names the problem).
        NotSupported: a recognised format Kru does not play.
        InvalidPack: the source zip is hostile (zip slip, bomb, links) or the result would
            not pass the pack checks.
    """
    src = Path(path)
    label = name or src.name
    if when is None:
        when = datetime.fromtimestamp(src.stat().st_mtime, UTC)
    report = ImportReport(source=label)
    default = PurePosixPath(label).name.split(".")[0] or "questions"
    with open(src, "rb") as fh:
        head = fh.read(4)
    digest = file_hash(src)
    report.pack_id = stable_id(None, label)
    report.version = stable_version(None, digest, when)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        try:
            groups = _from_zip(src, label, report, default)
        except _Converted as done:
            if done.own_id:  # the package names itself: a renamed copy upgrades the same pack
                report.pack_id = stable_id(done.own_id, label)
                report.version = stable_version(done.own_version, digest, when)
            write_import(
                Path(out), report, done.title, done.items, done.files, open_course, done.modules
            )
            return report
    elif head.startswith(b"\x1f\x8b"):
        members = moodle_backup.read_tar(src, label, _limits())
        course = _moodle_backup(members, label, report, default)
        if course.own_id:
            report.pack_id = stable_id(course.own_id, label)
        write_import(Path(out), report, course.title, [], course.files, open_course, course.modules)
        return report
    else:
        if src.stat().st_size > MAX_TEXT:
            raise BrokenFile(N_("%(file)s is too large for a question file"), file=label)
        groups = _text_groups(src.read_bytes(), label, report, default)
    items = quiz_items(groups, report)
    if not items:
        why = "; ".join(f"{what}: {reason}" for what, reason in report.skipped[:3])
        raise BrokenFile(
            N_("%(file)s holds no question Kru can use (%(why)s)"), file=label, why=why or "-"
        )
    write_import(Path(out), report, default, items, open_course=open_course)
    return report


def is_kru_pack(path: Path) -> bool:
    """Return True if ``path`` is a zip with a Kru ``manifest.json`` at its root."""
    try:
        with zipfile.ZipFile(path) as zf:
            return "manifest.json" in zf.namelist()
    except (zipfile.BadZipFile, OSError):
        return False


def as_pack(path: Path, name: str | None = None) -> tuple[Path, ImportReport | None]:
    """Return a Kru pack for an uploaded file: the file itself, or the pack made from it.

    The pack is written beside ``path``; an upload has no modification time, so the
    version comes from the time of the upload.

    Raises:
        ImportRefused, InvalidPack: as ``import_file``.
    """
    # A .zip that is no zip at all gets the installer's own "not a zip" answer.
    if is_kru_pack(path) or (path.suffix.lower() == ".zip" and not zipfile.is_zipfile(path)):
        return path, None
    out = path.with_name(f"{path.name}.pack.zip")
    report = import_file(path, out, name=name, when=datetime.now(UTC))
    return out, report
