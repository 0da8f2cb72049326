"""URL rules whose URL builders are made when first used, not when the app is built.

Werkzeug compiles two Python functions per URL rule as the rule is added (one to build its
URL for ``url_for``, one for URLs with extra query arguments): for the site's 160 rules
that was a fifth of the server's start up to the first answer, paid again by every start
on a Pi after a power cut, and about 0.7 MB of code objects, most of them for pages a
learner's phone never links to (issue 22). ``LazyBuildRule`` compiles each builder the
first time it is called; matching requests to rules is unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from werkzeug.routing import Rule


class LazyBuildRule(Rule):
    """A werkzeug ``Rule`` whose URL builders compile on their first use (``url_for``)."""

    def _compile_builder(self, append_unknown: bool = True) -> Callable[..., tuple[str, str]]:
        name = "_build_unknown" if append_unknown else "_build"
        compile_now = super()._compile_builder

        def build_on_first_use(rule: Rule, *args: Any, **kwargs: Any) -> tuple[str, str]:
            # Two threads may both compile it: the same function either way.
            built = compile_now(append_unknown).__get__(rule, None)
            setattr(rule, name, built)
            return built(*args, **kwargs)

        return build_on_first_use
