"""Drive Debian's Chromium against a real ``kru serve`` with demo data (tests and screenshots).

Chromium comes from Debian (``apt-get install chromium``, done by ``./dev.sh test``); Playwright
only drives it and never downloads a browser of its own.
"""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from edge_server.site.demo import DEMO_PASSWORD
from edge_server.web.i18n import load_catalog
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
    / "web"
    / "static"
    / "fonts"
    / "NotoSansKhmer-Regular.woff2"
)
# Set (to anything) to write the pictures browser tests take into the committed folder.
SCREENSHOTS_ENV = "KRU_SCREENSHOTS"
COMMITTED_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
SITE_ENV = {
    # Cheap password hashing; the real cost is measured in bench/.
    "KRU_AUTH_HASH_MEMORY_KIB": "1024",
    "KRU_AUTH_HASH_TIME_COST": "1",
}

_SEED = """
import sys
from edge_server.site import demo
from edge_server.cli.context import CliContext

ctx = CliContext(data_dir=sys.argv[1])
ctx.open_site_db()
demo.seed(ctx.settings, sample_pack=sys.argv[2] != "accounts")
"""


def screenshot_dir(scratch: Path, folder: str = "") -> Path:
    """Return the folder, made if missing, where a test saves the pictures it takes.

    ``docs/screenshots/<folder>`` when KRU_SCREENSHOTS is set (to regenerate the committed
    pictures), else ``scratch/<folder>`` (pytest's tmp dir): a local run still takes every
    picture, so that code runs, but leaves the work tree as committed.
    """
    out = (COMMITTED_SCREENSHOTS if os.environ.get(SCREENSHOTS_ENV) else scratch) / folder
    out.mkdir(parents=True, exist_ok=True)
    return out


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


def start_demo_site(
    root: Path, content: bool = True, env: dict[str, str] | None = None
) -> LiveSite:
    """Seed a data home under ``root`` and serve it with ``kru serve`` on a free port.

    ``env`` adds settings (``KRU_*``) to the server's environment.
    """
    data_dir = root / "kru-home"
    data_dir.mkdir(parents=True, exist_ok=True)
    seed_demo(data_dir, content=content)
    return LiveSite(data_dir, env={**SITE_ENV, **(env or {})}).start()


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


# --- accessibility -------------------------------------------------------------------------

# axe-core comes from the npm registry, installed by ./dev.sh test into the virtualenv
# (never fetched by a test); it is injected into the page from there.
AXE_JS = Path(sys.prefix) / "npm" / "node_modules" / "axe-core" / "axe.min.js"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def axe_violations(page: Any) -> dict[str, list[str]]:
    """Run axe-core's WCAG 2.1 A/AA rules on ``page``; return {rule id: [element selectors]}.

    Raises:
        RuntimeError: axe-core is not installed (./dev.sh test installs it).
    """
    if not AXE_JS.exists():
        raise RuntimeError(f"{AXE_JS} is missing; ./dev.sh test installs axe-core from npm")
    # Evaluated through the DevTools protocol, not added as a <script>: the pages' CSP
    # (script-src 'self') rightly blocks inline scripts, and the test must not weaken it.
    page.evaluate(AXE_JS.read_text(encoding="utf-8") + "\n;true")
    return page.evaluate(
        """async (tags) => {
             const result = await axe.run(document, {runOnly: {type: "tag", values: tags}});
             return Object.fromEntries(result.violations.map(
               v => [v.id, v.nodes.map(n => n.target.join(" "))]));
           }""",
        AXE_TAGS,
    )


# Marks every control a keyboard user must reach, presses Tab until focus comes back round,
# and returns the controls never focused (a radio group counts once, as the browser does).
_MARK_CONTROLS = """
() => {
  const selector = "a[href], button, input, select, textarea, iframe, [tabindex]";
  const shown = el => !el.disabled && el.type !== "hidden" && el.tabIndex >= 0
    && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  const controls = [...document.querySelectorAll(selector)].filter(shown);
  const groups = new Map();
  controls.forEach((el, i) => {
    const key = el.type === "radio" ? "radio:" + el.name : "el:" + i;
    el.dataset.kruKey = key;
    groups.set(key, (el.outerHTML.match(/^<[^>]*>/) || [""])[0].slice(0, 120));
  });
  window.__kruFocused = new Set();
  window.__kruUnmarked = [];
  document.addEventListener("focusin", e => {
    const el = e.target;
    if (el.dataset && el.dataset.kruKey) {
      window.__kruFocused.add(el.dataset.kruKey);
      const style = getComputedStyle(el);
      const html = groups.get(el.dataset.kruKey);
      const unmarked = style.outlineStyle === "none" && style.boxShadow === "none";
      if (unmarked && !window.__kruUnmarked.includes(html)) {
        window.__kruUnmarked.push(html);
      }
    }
  });
  return Object.fromEntries(groups);
}
"""


def keyboard_report(page: Any) -> dict[str, list[str]]:
    """Tab through ``page``; return controls never reached and those focused without a mark."""
    controls = page.evaluate(_MARK_CONTROLS)
    for _ in range(len(controls) + 10):
        page.keyboard.press("Tab")
    reached = set(page.evaluate("[...window.__kruFocused]"))
    return {
        "unreachable": [html for key, html in controls.items() if key not in reached],
        "no_focus_mark": page.evaluate("window.__kruUnmarked"),
    }


def horizontal_overflow(page: Any) -> int:
    """Return how many CSS pixels the page is wider than the window (0: no sideways scroll)."""
    return page.evaluate(
        "Math.max(0, document.documentElement.scrollWidth - document.documentElement.clientWidth)"
    )


# The main page of each role, each rendered from the demo site (Khmer and accessibility checks).
ITEM = "/learn/items/classroom-reading/"
MAIN_PAGES = [
    (None, "/login"),
    ("learner1", "/learn/"),
    ("learner1", "/learn/courses/classroom-reading/classroom-reading"),
    ("learner1", ITEM + "reading-classroom"),
    ("learner1", ITEM + "read-aloud-video"),
    ("learner1", ITEM + "check-groups"),
    ("learner1", "/learn/progress"),
    ("learner1", ITEM + "plan-reading-lesson"),
    ("instructor", "/teach/"),
    ("instructor", "/teach/cohorts/1"),
    ("instructor", "/teach/cohorts/1/submissions"),
    ("instructor", "/packs/"),
    ("instructor", "/packs/upload"),
    ("admin", "/admin/"),
    ("admin", "/admin/users"),
    ("admin", "/admin/users/import"),
]
