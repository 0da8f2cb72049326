"""Drive Debian's Chromium against a real ``kru serve`` with demo data (tests and screenshots).

Chromium comes from Debian (``apt-get install chromium``, done by ``./dev.sh test``); Playwright
only drives it and never downloads a browser of its own.
"""

from __future__ import annotations

import base64
import subprocess
import sys
from pathlib import Path
from typing import Any

from edge_server.demo import DEMO_PASSWORD
from edge_server.i18n import load_catalog
from tests.livesite import LiveSite

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",  # the test machine runs as root, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
PHONE = {"width": 360, "height": 740}
FONT_FILE = (
    Path(__file__).resolve().parents[2]
    / "edge_server"
    / "static"
    / "fonts"
    / "NotoSansKhmer-Regular.woff2"
)
SITE_ENV = {
    # Cheap password hashing; the real cost is measured in bench/.
    "KRU_AUTH_HASH_MEMORY_KIB": "1024",
    "KRU_AUTH_HASH_TIME_COST": "1",
}

_SEED = """
import sys
from edge_server import demo
from edge_server.cli.context import CliContext

ctx = CliContext(data_dir=sys.argv[1])
ctx.open_site_db()
if sys.argv[2] == "accounts":
    demo.EXTRA_STEPS.clear()
demo.seed(ctx.settings)
"""


def launch_chromium(playwright: Any) -> Any:
    """Start Debian's headless Chromium through Playwright.

    Raises:
        RuntimeError: /usr/bin/chromium is not installed.
    """
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing; ./dev.sh test installs Debian's chromium")
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
    )


def seed_demo(data_dir: Path, content: bool = True) -> None:
    """Create the demo accounts (and the sample pack unless ``content`` is false) in a subprocess.

    Raises:
        subprocess.CalledProcessError: seeding failed (its stderr is attached).
    """
    import os

    env = {**os.environ, **SITE_ENV}
    subprocess.run(
        [sys.executable, "-c", _SEED, str(data_dir), "all" if content else "accounts"],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )


def start_demo_site(root: Path, content: bool = True) -> LiveSite:
    """Seed a data home under ``root`` and serve it with ``kru serve`` on a free port."""
    data_dir = root / "kru-home"
    data_dir.mkdir(parents=True, exist_ok=True)
    seed_demo(data_dir, content=content)
    return LiveSite(data_dir, env=SITE_ENV).start()


def new_phone_context(browser: Any, site_url: str, **options: Any) -> Any:
    """Open a fresh browser profile sized like a 360x740 phone."""
    context = browser.new_context(viewport=PHONE, base_url=site_url, **options)
    context.set_default_timeout(10_000)
    return context


def sign_in(page: Any, username: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in through the sign-in page and wait for the landing page."""
    page.goto("/login")
    page.fill("#username", username)
    page.fill("#password", password)
    with page.expect_navigation():
        page.locator("main form button[type=submit]").click()
    assert "/login" not in page.url, f"sign-in as {username} failed: {page.url}"


def km(msgid: str, **values: Any) -> str:
    """Return the Khmer text the site shows for the English ``msgid``."""
    text = load_catalog("km").gettext(msgid)
    assert text != msgid, f"no Khmer translation for {msgid!r}"
    return text % values if values else text


# Measures a Khmer string three ways: in the page's own font stack, in a probe face made in the
# page from the bundled WOFF2's bytes (not fetched from the site), and in a family that does not
# exist (what the phone would show without the bundled font: fallback glyphs or tofu boxes).
_FONT_PROBE = """
async ({text, fontBase64}) => {
  await document.fonts.ready;
  const bytes = Uint8Array.from(atob(fontBase64), c => c.charCodeAt(0));
  const probe = new FontFace("KruBundledProbe", bytes.buffer);
  await probe.load();
  document.fonts.add(probe);
  const bodyFamily = getComputedStyle(document.body).fontFamily;
  const measure = (family) => {
    const span = document.createElement("span");
    span.textContent = text;
    span.style.cssText = "position:absolute;white-space:nowrap;font-size:32px;visibility:hidden";
    span.style.fontFamily = family;
    document.body.appendChild(span);
    const width = span.getBoundingClientRect().width;
    span.remove();
    return width;
  };
  const faces = [...document.fonts].filter(f => f.family.replace(/"/g, "") === "Noto Sans Khmer");
  return {
    bodyFamily,
    siteFaceStatus: faces.map(f => f.status),
    pageWidth: measure(bodyFamily),
    bundledWidth: measure('"KruBundledProbe", monospace'),
    fallbackWidth: measure('"Kru No Such Font", monospace'),
  };
}
"""

KHMER_SAMPLE = "សូមស្វាគមន៍មកកាន់វគ្គបណ្តុះបណ្តាលគ្រូ"


def khmer_font_report(page: Any, text: str = KHMER_SAMPLE) -> dict[str, Any]:
    """Return how ``text`` renders on ``page``: site face status and three measured widths."""
    font = base64.b64encode(FONT_FILE.read_bytes()).decode("ascii")
    return page.evaluate(_FONT_PROBE, {"text": text, "fontBase64": font})


def renders_with_bundled_font(report: dict[str, Any]) -> bool:
    """Whether the page drew Khmer with the bundled face rather than a fallback."""
    return (
        "loaded" in report["siteFaceStatus"]
        and abs(report["pageWidth"] - report["bundledWidth"]) < 0.5
        and abs(report["pageWidth"] - report["fallbackWidth"]) > 5
    )
