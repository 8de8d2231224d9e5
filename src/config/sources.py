"""Reading grouped settings from the flat variable names deployments already set.

pydantic-settings reads a nested model from `FEED__SSE_MAX_STREAMS` or a JSON `FEED`
variable; renaming every variable would break each deployment, and a stray `DATABASE`
variable would be parsed as the whole group. This source looks up each field by its own
flat name (the field's name, case-insensitively) and puts it into its group.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource


def group_model(field: FieldInfo) -> type[BaseModel] | None:
    """The group's model when the field is a group, else None."""
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return None


def setting_fields(
    settings_cls: type[BaseModel],
) -> Iterator[tuple[str | None, str, FieldInfo]]:
    """(group or None, name, field) of every setting, in declaration order."""
    for name, field in settings_cls.model_fields.items():
        model = group_model(field)
        if model is None:
            yield None, name, field
        else:
            for inner, inner_field in model.model_fields.items():
                yield name, inner, inner_field


class FlatVariables(PydanticBaseSettingsSource):
    """Settings from a mapping of lower-cased variable names (the environment or `.env`)."""

    def __init__(self, settings_cls: type[BaseSettings], variables: Mapping[str, str | None]):
        super().__init__(settings_cls)
        self._variables = variables

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Unused: __call__ maps the whole mapping at once.
        return self._variables.get(field_name), field_name, False

    def __call__(self) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for group, name, _field in setting_fields(self.settings_cls):
            value = self._variables.get(name)
            if value is None:
                continue
            target = data if group is None else data.setdefault(group, {})
            target[name] = value
        return data


def into_groups(settings_cls: type[BaseModel], values: dict[str, Any]) -> dict[str, Any]:
    """Move flat names given to the constructor (`sse_max_streams=2`) into their group.

    Callers and tests name a setting as a deployment does; a flat name wins over the same
    setting inside a group's values, as the constructor's arguments win over variables.
    """
    groups = {
        name: group for group, name, _field in setting_fields(settings_cls) if group is not None
    }
    result: dict[str, Any] = {}
    moved: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        group = groups.get(key)
        if group is None:
            result[key] = value
        else:
            moved.setdefault(group, {})[key] = value
    for group, flat in moved.items():
        given = result.get(group, {})
        if isinstance(given, BaseModel):
            given = given.model_dump()
        result[group] = {**given, **flat}
    return result
