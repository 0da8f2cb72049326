"""Khmer and English: Flask-Babel with catalogs read from .po files, Khmer digits.

Each part of Kru keeps its own catalog (``translations/<lang>/<part>.po``); they are merged
and compiled in memory at first use, so no compiled ``.mo`` file is kept in git.
"""

from __future__ import annotations

import io
from functools import cache
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from flask import current_app, g, request, session
from flask.globals import _cv_app
from flask_babel import Babel, Domain, get_locale
from flask_login import current_user
from jinja2 import pass_eval_context
from jinja2.nodes import EvalContext
from markupsafe import Markup

from ..base.localtime import date_words, is_past, local_text

TRANSLATIONS = Path(__file__).parent / "translations"
LANGUAGES = {"km": "ខ្មែរ", "en": "English"}
_KHMER_DIGITS = str.maketrans("0123456789", "០១២៣៤៥៦៧៨៩")


@cache
def load_catalog(language: str) -> Translations | NullTranslations:
    """Return every ``translations/<language>/*.po`` merged into one translations object."""
    merged: Translations | None = None
    for po in sorted((TRANSLATIONS / language).glob("*.po")):
        with open(po, "rb") as fh:
            catalog = read_po(fh, locale=language)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        part = Translations(fp=buf)
        if merged is None:
            merged = part
        else:
            merged.merge(part)
    return merged or NullTranslations()


def page_locale() -> Locale | None:
    """Return this request's language as Flask-Babel's ``get_locale`` does, read straight from
    where it keeps it once chosen (``g._flask_babel.babel_locale``).

    ``get_locale`` reaches it through Flask's proxies, and a learner page asks eight or
    nine times (issue 22). Flask-Babel's ``refresh`` (after a change of language) empties
    the same place, so both always agree.
    """
    app_ctx = _cv_app.get(None)
    if app_ctx is not None:
        kept = app_ctx.g.__dict__.get("_flask_babel")
        found = getattr(kept, "babel_locale", None)
        if found is not None:
            return found
    return get_locale()


def page_language() -> str:
    """Return this request's language code (``km`` outside a request)."""
    locale = page_locale()
    return locale.language if locale else "km"


class PoDomain(Domain):
    def get_translations(self):  # Flask-Babel's signature
        locale = page_locale()
        if locale is None or locale.language == "en":
            return NullTranslations()
        return load_catalog(locale.language)


class KruBabel(Babel):
    @property
    def domain_instance(self) -> Domain:
        return _DOMAIN


_DOMAIN = PoDomain()


def select_locale() -> str:
    """Return the user's language: their account's, else this browser's choice, else the site's."""
    if current_user and current_user.is_authenticated and current_user.language:
        return current_user.language
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return current_app.config["KRU"]["default_language"]


@cache
def _parsed(code: str) -> Locale:
    return Locale.parse(code)


def selected_locale() -> Locale:
    """Return ``select_locale``'s language as a babel Locale, parsed once per language
    (Flask-Babel parsed the code again on every request: a fiftieth of a page, issue 22)."""
    return _parsed(select_locale())


def khmer_digits(value: object) -> str:
    """Return ``value`` as text, with Khmer digits when the page is in Khmer."""
    text = str(value)
    locale = page_locale()
    if locale is not None and locale.language == "km":
        return text.translate(_KHMER_DIGITS)
    return text


def site_zone() -> str:
    """Return the time zone times are shown in (the site's ``time_zone``; UTC on central)."""
    return current_app.config["KRU"].get("time_zone", "UTC")


def local_time(value: object) -> str:
    """Return a stored UTC time as the site's local time, with Khmer digits on Khmer pages."""
    return khmer_digits(local_text(value, site_zone()))


def local_date(value: object) -> str:
    """Return a ``YYYY-MM-DD`` date in words of the page's language ("២០ ធ្នូ ២០២៦")."""
    return khmer_digits(date_words(value, page_language()))


def khmer_digit_values(values: dict[str, object]) -> dict[str, str]:
    """Return ``values`` (a message's placeholders) with Khmer digits on a Khmer page."""
    return {name: khmer_digits(value) for name, value in values.items()}


def _request_translations() -> Translations | NullTranslations:
    """Return this request's catalog, found once per request and kept on ``g``."""
    found = g.get("_kru_translations")
    if found is None:
        found = g._kru_translations = _DOMAIN.get_translations()
    return found


def page_gettext(message: str) -> str:
    """Return ``message`` in this request's language, as templates' ``_()`` does."""
    return _request_translations().ugettext(message)


def _install_fast_gettext(app) -> None:
    """Let templates' _() find the catalog once per request, not once per string.

    A course page calls _() about 600 times; Flask-Babel's lookup of locale and catalog on
    each call was a third of the page's time (bench/, issue 9).
    """
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: _request_translations().ugettext(s),
        ngettext=lambda s, p, n: _request_translations().ungettext(s, p, n),
        newstyle=True,
        pgettext=lambda c, s: _request_translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: _request_translations().unpgettext(c, s, p, n),
    )
    # Jinja's ``_`` resolves ``gettext`` in the context and calls it, which calls the
    # function above: three dispatches through ``Context.call`` per message, a twentieth of
    # the course page (issue 22). This ``_`` does in one what that chain does.
    app.jinja_env.globals["_"] = _template_gettext


@pass_eval_context
def _template_gettext(eval_ctx: EvalContext, __string: str, **variables: object) -> str:
    """A template's ``_(message, **values)``: what Jinja's newstyle ``gettext`` returns."""
    text: str = _request_translations().ugettext(__string)
    if eval_ctx.autoescape:
        text = Markup(text)  # noqa: S704  # translations are trusted, as in Jinja's
    # Always a format string, even without values, as in Jinja (values are escaped by Markup).
    return text % variables


def init_app(app) -> None:
    KruBabel(app, locale_selector=selected_locale, default_locale="km")
    _install_fast_gettext(app)
    app.jinja_env.filters["kn"] = khmer_digits
    app.jinja_env.filters["kn_values"] = khmer_digit_values
    app.jinja_env.filters["localtime"] = local_time
    app.jinja_env.filters["datewords"] = local_date
    app.jinja_env.tests["past"] = lambda value: is_past(value, site_zone())
    app.jinja_env.globals["LANGUAGES"] = LANGUAGES

    @app.context_processor
    def _lang() -> dict[str, object]:
        return {"lang": page_language(), "request_path": request.path}
