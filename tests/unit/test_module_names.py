"""Module names: one meaning each within a layer (.ai/context.md "Module names").

A layer's tree (sub-packages included) never holds two modules of one base name, such as
`services/webhook/dispatch.py` beside `services/dispatch.py`, nor the singular and the plural
of one name, such as `reservation.py` beside `reservations.py`: a reader looking for a
thing by its name finds one place."""

from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
LAYERS = ("api", "cli", "config", "core", "jobs", "models", "repositories", "schemas", "services")


def _names(layer: Path) -> dict[str, list[str]]:
    """Each base name in the layer's tree (a module's stem, a sub-package's folder name),
    with where it occurs."""
    found: dict[str, list[str]] = defaultdict(list)
    for path in sorted(layer.rglob("*.py")):
        relative = path.relative_to(SRC).as_posix()
        if path.name == "__init__.py":
            if path.parent != layer:
                found[path.parent.name].append(relative)
        else:
            found[path.stem].append(relative)
    return found


def _singular(name: str) -> str:
    """The name with its last word made singular, roughly, for comparison only."""
    for plural, single in (("ies", "y"), ("sses", "ss"), ("ches", "ch"), ("shes", "sh")):
        if name.endswith(plural):
            return name[: -len(plural)] + single
    if re.search(r"[^s]s$", name):
        return name[:-1]
    return name


def duplicates(found: dict[str, list[str]]) -> dict[str, list[str]]:
    return {name: places for name, places in found.items() if len(places) > 1}


def mixed_numbers(found: dict[str, list[str]]) -> list[tuple[str, ...]]:
    by_singular: dict[str, set[str]] = defaultdict(set)
    for name in found:
        by_singular[_singular(name)].add(name)
    return [tuple(sorted(names)) for names in by_singular.values() if len(names) > 1]


def test_the_layers_are_where_this_test_looks() -> None:
    assert all((SRC / layer / "__init__.py").is_file() for layer in LAYERS)


def test_no_base_name_twice_within_a_layer() -> None:
    problems = {layer: duplicates(_names(SRC / layer)) for layer in LAYERS}
    assert {layer: found for layer, found in problems.items() if found} == {}


def test_no_layer_mixes_the_singular_and_plural_of_a_name() -> None:
    problems = {layer: mixed_numbers(_names(SRC / layer)) for layer in LAYERS}
    assert {layer: found for layer, found in problems.items() if found} == {}


def test_the_checks_catch_what_they_are_for() -> None:
    twice = {"dispatch": ["services/dispatch.py", "services/webhook/dispatch.py"], "feed": ["x"]}
    assert duplicates(twice) == {"dispatch": twice["dispatch"]}
    both = {"reservation": ["a"], "reservations": ["b"], "batch": ["c"], "batches": ["d"]}
    assert sorted(mixed_numbers(both)) == [("batch", "batches"), ("reservation", "reservations")]
    apart = {"access": ["a"], "stream_access": ["b"], "status": ["c"], "problems": ["d"]}
    assert mixed_numbers(apart) == []
