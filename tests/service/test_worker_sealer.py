"""The worker seals the audit log every few seconds, so the unsealed lag stays small."""

from __future__ import annotations

import threading
import time
from pathlib import Path

from igflow.cli.worker import seal_audit_log
from igflow.config import Settings
from igflow.db import Database
from igflow.security import audit
from igflow.security.audit_verify import unsealed_lag
from igflow.security.signing import Signer, write_key_file


def test_the_worker_sealer_chains_new_rows_and_keeps_going(db: Database, tmp_path: Path) -> None:
    write_key_file(Signer.generate(), tmp_path / "audit.key")
    settings = Settings(
        database_url=str(db.engine.url.render_as_string(hide_password=False)),
        audit_signing_key_file=tmp_path / "audit.key",
        audit_seal_every_s=0.05,
    )
    with db.session() as session:
        for n in range(5):
            audit.record(session, audit.SYSTEM, "test.event", "test", n)
        session.commit()
        assert unsealed_lag(session)[0] >= 5
    stop = threading.Event()
    sealer = threading.Thread(target=seal_audit_log, args=(db, settings, stop), daemon=True)
    sealer.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with db.session() as session:
                if unsealed_lag(session)[0] == 0:
                    break
            time.sleep(0.05)
        with db.session() as session:
            assert unsealed_lag(session)[0] == 0
            audit.record(session, audit.SYSTEM, "test.event", "test", "late")
            session.commit()
        time.sleep(0.5)
        with db.session() as session:
            assert unsealed_lag(session)[0] == 0  # rows appended later are sealed on the next turn
    finally:
        stop.set()
        sealer.join(timeout=5)
    assert not sealer.is_alive()
