"""URL builders compiled on first use (issue 22): the same URLs, made later."""

from __future__ import annotations

from flask import url_for
from werkzeug.routing import Map, Rule

from edge_server.web.routing import LazyBuildRule

SAMPLES = (7, "abc", "a/b")


def _built(rule: Rule, values: dict) -> object:
    try:
        return rule.build(dict(values))
    except Exception as exc:  # compared with what plain werkzeug raises
        return type(exc)


def test_a_rules_url_builder_is_compiled_when_first_used(app):
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == "learn.home")
    assert isinstance(rule, LazyBuildRule)
    assert rule._build_unknown.__name__ == "build_on_first_use"
    assert rule._build.__name__ == "build_on_first_use"
    with app.test_request_context():
        first = url_for("learn.home")  # with unknown arguments as the query string
        assert rule._build_unknown.__name__ != "build_on_first_use"  # compiled, kept
        assert rule._build.__name__ == "build_on_first_use"  # still not needed
        assert url_for("learn.home") == first


def test_every_rule_builds_the_urls_plain_werkzeug_builds(app):
    rules = list(app.url_map.iter_rules())
    plain = Map(
        [
            Rule(
                r.rule,
                endpoint=r.endpoint,
                defaults=r.defaults,
                methods=r.methods,
                strict_slashes=r.strict_slashes,
                merge_slashes=r.merge_slashes,
                redirect_to=r.redirect_to,
            )
            for r in rules
        ],
        converters=app.url_map.converters,
    )
    compared = 0
    for lazy, reference in zip(rules, plain.iter_rules(), strict=True):
        assert lazy.rule == reference.rule
        for sample in SAMPLES:
            values = {argument: sample for argument in lazy.arguments}
            for extra in ({}, {"page": 2, "q": "ភាសាខ្មែរ"}):
                assert _built(lazy, {**values, **extra}) == _built(reference, {**values, **extra})
                compared += 1
    assert compared >= 150 * len(SAMPLES) * 2
