"""The webhook receiver in docs/API.md works: taken from the page as it is, run as a module,
and fed deliveries signed by the service's own signer (`src.core.webhook.signing`), it takes
a genuine one once, answers a repeat 2xx without handling it again, and refuses a tampered
body, a foreign secret and an old timestamp."""

from __future__ import annotations

import importlib.util
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from src.core.webhook.signing import new_secret, sign

DOC = Path(__file__).resolve().parents[2] / "docs" / "API.md"
PYTHON_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.DOTALL | re.MULTILINE)
EVENT = {
    "id": "q1-example",
    "type": "movement.created",
    "occurred_at": "2026-01-31T12:00:00Z",
    "data": {"id": "m1"},
}
BODY = b'{"id":"q1-example","type":"movement.created","occurred_at":"2026-01-31T12:00:00Z",' + (
    b'"data":{"id":"m1"}}'
)


def example_code() -> str:
    blocks = [b for b in PYTHON_BLOCK.findall(DOC.read_text(encoding="utf-8")) if "Webhook(" in b]
    assert len(blocks) == 1, "docs/API.md should hold exactly one webhook receiver example"
    code: str = blocks[0]
    assert "from standardwebhooks.webhooks import Webhook" in code
    return code


@dataclass
class Receiver:
    module: ModuleType
    secret: str
    handled: list[dict[str, Any]] = field(default_factory=list)

    async def deliver(
        self,
        *,
        secrets: list[str] | None = None,
        sent_body: bytes = BODY,
        timestamp: int | None = None,
    ) -> int:
        """POST as the service does: `BODY` signed (with the receiver's secret unless told
        otherwise), `sent_body` sent."""
        at = int(time.time()) if timestamp is None else timestamp
        headers = {
            "content-type": "application/json",
            "webhook-id": "q1-example",
            "webhook-timestamp": str(at),
            "webhook-signature": sign(secrets or [self.secret], "q1-example", at, BODY),
        }
        transport = httpx.ASGITransport(app=self.module.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
            response = await client.post("/hooks/stockroom", content=sent_body, headers=headers)
        return response.status_code


@pytest.fixture
def receiver(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Receiver:
    """The example, run as the module `receiver.py` it says it is."""
    secret = new_secret()
    monkeypatch.setenv("STOCKROOM_WEBHOOK_SECRET", secret)
    path = tmp_path / "receiver.py"
    path.write_text(example_code(), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("docs_webhook_receiver", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = Receiver(module, secret)
    monkeypatch.setattr(module, "handle", found.handled.append)
    return found


async def test_a_signed_delivery_is_handled_once_and_a_repeat_is_acknowledged(
    receiver: Receiver,
) -> None:
    assert await receiver.deliver() == 204
    assert await receiver.deliver() == 204  # the same webhook-id again
    assert receiver.handled == [EVENT]


async def test_during_a_rotation_either_signature_verifies(receiver: Receiver) -> None:
    # The service signs with the current secret first and the previous one second.
    assert await receiver.deliver(secrets=[new_secret(), receiver.secret]) == 204
    assert receiver.handled == [EVENT]


async def test_a_tampered_body_is_refused(receiver: Receiver) -> None:
    assert await receiver.deliver(sent_body=BODY.replace(b'"m1"', b'"m2"')) == 400
    # The same JSON in other bytes (spaces added) fails too: the raw bytes are what is signed.
    assert await receiver.deliver(sent_body=BODY.replace(b'","', b'", "')) == 400
    assert receiver.handled == []


async def test_another_secret_or_an_old_timestamp_is_refused(receiver: Receiver) -> None:
    assert await receiver.deliver(secrets=[new_secret()]) == 400
    assert await receiver.deliver(timestamp=int(time.time()) - 3600) == 400
    assert receiver.handled == []
