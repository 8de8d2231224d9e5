"""A real PgBouncer (transaction pooling) in front of the test PostgreSQL."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy.engine import make_url

from tests.support.servers import free_port


@contextlib.contextmanager
def pgbouncer(database_url: str) -> Iterator[str]:
    """Yield `database_url` rewritten to go through a fresh PgBouncer."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    url = make_url(database_url)
    port = free_port()
    directory = Path(tempfile.mkdtemp(prefix="stockroom-pgbouncer-"))
    directory.chmod(0o755)  # PgBouncer refuses to run as root; it drops to `nobody`
    config = directory / "pgbouncer.ini"
    users = directory / "users.txt"
    users.write_text(f'"{url.username}" ""\n')
    config.write_text(
        "[databases]\n"
        f"* = host={url.host} port={url.port or 5432}\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {port}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {users}\npool_mode = transaction\n"
        "max_client_conn = 500\ndefault_pool_size = 10\n"
    )
    for path in (users, config):
        path.chmod(0o644)
    command = [binary, str(config)]
    if os.geteuid() == 0:
        command[1:1] = ["-u", "nobody"]
    process = subprocess.Popen(  # noqa: S603 - a fixed local binary
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("PgBouncer did not start")
            time.sleep(0.05)
        yield url.set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
    finally:
        process.terminate()
        process.wait(timeout=10)
        shutil.rmtree(directory, ignore_errors=True)
