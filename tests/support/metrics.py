"""Reading Prometheus text: one sample's value."""

from __future__ import annotations


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample line (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and line.split(" ")[0] != name:
            continue
        if all(f'{key}="{value}"' in line for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
