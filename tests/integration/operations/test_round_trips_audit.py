"""The audit log costs no round trip of its own: a change's entries go in the statement that
writes its events (and the NOTIFY), and a request that audits nothing sends nothing more."""

from __future__ import annotations

from tests.support.round_trips import Counted
from tests.support.stock import API


async def test_an_audited_change_writes_its_entry_with_its_events(counted: Counted) -> None:
    url = f"{API}/products/{counted.product['id']}"
    version = 1
    for name in ("Warm 1", "Warm 2"):  # warm: every statement prepared
        headers = {**counted.manager, "If-Match": f'"v{version}"'}
        response = await counted.client.patch(url, json={"name": name}, headers=headers)
        assert response.status_code == 200, response.text
        version += 1
    headers = {**counted.manager, "If-Match": f'"v{version}"'}
    response, made = await counted.trips("PATCH", url, json={"name": "Counted"}, headers=headers)
    assert response.status_code == 200, response.text
    # BEGIN, the check, the product locked, its update, events + audit entry + NOTIFY, COMMIT.
    assert len(made) == 6, made
    audited = [t for t in made if "audit_entries" in t]
    assert len(audited) == 1, made
    assert "INSERT INTO events" in audited[0], audited
    # A PATCH that changes nothing audits nothing, and writes nothing at the end.
    headers = {**counted.manager, "If-Match": f'"v{version + 1}"'}
    same, made = await counted.trips("PATCH", url, json={"name": "Counted"}, headers=headers)
    assert same.status_code == 200, same.text
    assert not [t for t in made if "audit_entries" in t or "events" in t], made
    assert len(made) == 4, made
