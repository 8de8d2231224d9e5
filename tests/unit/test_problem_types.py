"""Problem slugs and titles are written once, on the domain exceptions, and every renderer
(error handlers, middleware, OpenAPI) takes them from there."""

from __future__ import annotations

import json

import pytest

from src.api.problems import problem_response
from src.api.responses import problem_responses
from src.core.exceptions import PROBLEM_FOR_STATUS, DomainError


def _all_domain_errors(root: type[DomainError] = DomainError) -> list[type[DomainError]]:
    found = []
    for kind in root.__subclasses__():
        found += [kind, *_all_domain_errors(kind)]
    return found


@pytest.mark.parametrize("status", sorted(PROBLEM_FOR_STATUS))
def test_a_status_renders_its_exceptions_slug_and_title(status: int) -> None:
    body = json.loads(problem_response(status=status, detail="d", instance="/x").body)
    kind = PROBLEM_FOR_STATUS[status]
    assert kind.status == status or status == 415
    assert body["type"] == f"/problems/{kind.slug}"
    assert body["title"] == kind.title


def test_one_title_per_problem_type() -> None:
    titles: dict[str, set[str]] = {}
    for kind in _all_domain_errors():
        titles.setdefault(kind.slug, set()).add(kind.title)
    assert {slug: names for slug, names in titles.items() if len(names) > 1} == {}


def test_openapi_descriptions_use_the_same_titles() -> None:
    documented = problem_responses(*(s for s in PROBLEM_FOR_STATUS if s not in (405, 415, 500)))
    for status, response in documented.items():
        assert isinstance(status, int)
        assert response["description"].startswith(PROBLEM_FOR_STATUS[status].title + ": ")
