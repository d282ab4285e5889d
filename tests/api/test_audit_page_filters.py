"""The audit log page filters by who, patient, action and dates, and pages back through older rows."""

from __future__ import annotations

import datetime as dt

from tests.conftest import World


def test_the_audit_log_filters_and_pages(world: World) -> None:
    pid = world.patients["ann"]
    pharmacist = world.client("pharmacist")
    for _ in range(3):
        assert pharmacist.get(f"/api/v1/patients/{pid}").status_code == 200
    world.client("nurse").get(f"/api/v1/patients/{world.patients['sol']}")
    auditor = world.client("auditor")
    mine = auditor.get("/audit", params={"actor": "pharmacist", "patient": str(pid)})
    assert mine.status_code == 200
    rows = mine.text.count("<tr><td>")
    assert rows >= 3
    assert ">nurse<" not in mine.text.replace("(nurse)", "")
    by_action = auditor.get("/audit", params={"action": "patient."})
    assert "patient." in by_action.text
    future = (dt.date.today() + dt.timedelta(days=2)).isoformat()
    assert "No row matches." in auditor.get("/audit", params={"date_from": future}).text
    bad = auditor.get("/audit", params={"patient": "Annika", "date_to": "tomorrow"})
    assert "give the patient&#39;s number" in bad.text or "give the patient's number" in bad.text
    assert "give a date like" in bad.text
    # more than a page: "Older rows" continues below the last row shown
    for _ in range(105):
        pharmacist.get(f"/api/v1/patients/{pid}")
    first = auditor.get("/audit", params={"actor": "pharmacist"})
    assert "Older rows" in first.text
    link = first.text.split('href="/audit?')[-1].split('"')[0].replace("&amp;", "&")
    older = auditor.get(f"/audit?{link}")
    assert older.status_code == 200 and older.text.count("<tr><td>") >= 1
