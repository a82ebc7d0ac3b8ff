"""Running headers and footers: dropped over body text, never emptying a page, counted."""

import pytest
from tokenizers import Tokenizer

from ingest_svc.chunking import chunk_document
from ingest_svc.parsers.parsed import ParseReport
from ingest_svc.parsers.running_lines import drop_running_lines
from ingest_svc.parsing import parse_document
from tests.pdf_files import lines_pdf, running_headers_pdf, templated_pdf

pytestmark = pytest.mark.unit


def test_a_templated_2000_page_pdf_keeps_every_page(tokenizer: Tokenizer) -> None:
    # Every page's only line repeats (digits masked) on 1,999 others: the old filter
    # dropped it everywhere but the first page and indexed 1 chunk.
    doc = parse_document(templated_pdf(2000), "records.pdf")
    assert doc.page_count == 2000
    assert [s.page for s in doc.sections] == list(range(1, 2001))
    assert doc.sections[1233].text == (
        "Page 1234. Sensor calibration record number 1234: offset 2 mV, gain 4."
    )
    assert doc.report == ParseReport(
        running_lines_dropped=0,
        running_chars_dropped=0,
        chars_extracted=sum(len(s.text) for s in doc.sections),
        empty_pages=0,
    )
    assert doc.report.warning(doc.page_count) is None
    chunks = chunk_document(doc, tokenizer)
    # Page 1's line is the title, which heads every chunk's text instead.
    assert [c.page for c in chunks] == list(range(2, 2001))
    assert all(c.text.startswith(f"{doc.title}\n\nPage {c.page}. Sensor") for c in chunks)


def test_real_running_headers_and_footers_are_still_dropped() -> None:
    doc = parse_document(running_headers_pdf(8), "report.pdf")
    later = [s.text for s in doc.sections if s.page != 1]
    assert len(later) == 7
    assert not any("Annual Maintenance Report" in text or "of 8" in text for text in later)
    assert later[0].startswith("Section 2: the pump station 2 was serviced")
    assert doc.sections[0].text.startswith("Annual Maintenance Report")  # the title page
    assert doc.report.running_lines_dropped == 14  # header and footer of pages 2-8
    assert doc.report.running_chars_dropped == 7 * len("Annual Maintenance Report") + sum(
        len(f"Page {n} of 8") for n in range(2, 9)
    )
    assert (doc.report.empty_pages, doc.report.warning(8)) == (0, None)


def test_a_page_of_only_repeated_lines_keeps_them() -> None:
    pages: list[str | None] = [
        "Title page",
        *[f"Handbook\nBody of page {n}.\n{n}" for n in range(2, 6)],
        "Handbook\n6",  # a blank page of the book: nothing but its header and number
        None,  # unreadable
        "",
    ]
    running = drop_running_lines(pages)
    assert running.pages[1:5] == [f"Body of page {n}." for n in range(2, 6)]
    assert running.pages[5:] == ["Handbook\n6", None, ""]
    assert running.lines_dropped == 8
    assert running.chars_dropped == 4 * len("Handbook") + 4
    assert running.chars_before == sum(len(p) for p in pages if p)


def test_warning_when_most_text_or_most_pages_are_lost() -> None:
    # A long repeated header over a short body: the filter drops most of each page.
    header = "Confidential: facilities team internal maintenance log, do not distribute"
    pumps = "north south east west upper lower inner outer main spare".split()
    pages = [["Log"], *([header, f"Pump {name} ok."] for name in pumps)]
    doc = parse_document(lines_pdf(pages), "log.pdf")
    assert doc.report.running_lines_dropped == 10
    assert doc.report.warning(doc.page_count) == "most_text_dropped"
    blank = parse_document(lines_pdf([["Only the cover has text"], [], [], []]), "scan.pdf")
    assert (blank.report.empty_pages, blank.report.warning(blank.page_count)) == (
        3,
        "most_pages_empty",
    )
    assert ParseReport(empty_pages=2).warning(4) is None  # half is not most
    assert ParseReport(running_chars_dropped=5, chars_extracted=10).warning(None) is None
