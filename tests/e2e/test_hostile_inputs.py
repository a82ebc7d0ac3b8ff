"""Inputs that used to lose content silently or cost hours, through the real gateway.

Each case was found on main by uploading it as a user would (issue 15); the figures
in the docstrings are from then.
"""

import pytest

from tests.e2e.stack import wait_final
from tests.pdf_files import running_headers_pdf, templated_pdf

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


async def test_parse_report_shows_what_the_header_filter_dropped(http) -> None:
    """A templated PDF keeps every page (before: 1 chunk of 2,000 pages); a report with
    running headers loses them; both say so in their detail."""
    raw, client = http
    files = [
        ("file", ("records.pdf", templated_pdf(12), "application/pdf")),
        ("file", ("report.pdf", running_headers_pdf(6), "application/pdf")),
    ]
    reply = await raw.post("/v1/documents", files=files)
    assert reply.status_code == 202, reply.text
    ids = {d["filename"]: d["id"] for d in reply.json()["documents"]}
    docs = await wait_final(client, list(ids.values()), 120)
    records, report = docs[ids["records.pdf"]], docs[ids["report.pdf"]]
    assert (records["status"], records["page_count"], records["chunks"]) == ("indexed", 12, 11)
    assert records["parse_report"] == {
        "running_lines_dropped": 0,
        "empty_pages": 0,
        "warning": None,
    }
    assert (report["status"], report["page_count"]) == ("indexed", 6)
    assert report["parse_report"] == {
        "running_lines_dropped": 10,
        "empty_pages": 0,
        "warning": None,
    }
    found = await client.retrieve("Sensor calibration record number 9 offset")
    assert any(p["page"] == 9 for p in found["passages"]), found
    pumps = await client.retrieve("When was pump station 4 serviced?")
    texts = [p["text"] for p in pumps["passages"] if p["filename"] == "report.pdf"]
    assert texts and not any("of 6" in text for text in texts), pumps
