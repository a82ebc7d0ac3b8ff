"""PDFs written byte by byte for tests: pages of Helvetica lines, no library needed.

pypdf reads them back line by line (each line is its own text object lower on the
page), which is all the parser tests need; 2,000 pages take about 0.3 MB.
"""


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def lines_pdf(pages: list[list[str]], *, title: str | None = None) -> bytes:
    """A valid PDF 1.4 whose page ``i`` shows the lines ``pages[i]``, top to bottom.

    Args:
        pages: Lines of each page (ASCII; parentheses and backslashes are escaped).
        title: The document information dictionary's ``/Title``, if any.

    Returns:
        The file's bytes.
    """
    count = len(pages)
    font = 3 + 2 * count
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for i, lines in enumerate(pages):
        shown = " ".join(
            f"BT /F1 11 Tf 72 {740 - 16 * n} Td ({_escape(line)}) Tj ET"
            for n, line in enumerate(lines)
        )
        content = shown.encode("latin-1")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R"
            f" /Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    info = None
    if title is not None:
        objects.append(f"<< /Title ({_escape(title)}) >>".encode("latin-1"))
        info = len(objects)
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = f"/Size {len(objects) + 1} /Root 1 0 R" + (f" /Info {info} 0 R" if info else "")
    out += b"trailer\n<< %s >>\nstartxref\n%d\n%%%%EOF\n" % (trailer.encode(), xref)
    return bytes(out)


def templated_pdf(pages: int) -> bytes:
    """``pages`` pages of one templated line each, as the issue's calibration records."""
    return lines_pdf(
        [
            [f"Page {n}. Sensor calibration record number {n}: offset {n % 7} mV, gain {n % 5}."]
            for n in range(1, pages + 1)
        ]
    )


def running_headers_pdf(pages: int) -> bytes:
    """A report whose pages carry a running header, two body lines and a page footer."""
    body = [
        [
            "Annual Maintenance Report",
            f"Section {n}: the pump station {n} was serviced on day {n * 3} of the year.",
            f"Its impeller wear was {n % 9} tenths of a millimetre, within tolerance.",
            f"Page {n} of {pages}",
        ]
        for n in range(1, pages + 1)
    ]
    body[0] = ["Annual Maintenance Report", "Prepared by the facilities team.", *body[0][1:3]]
    return lines_pdf(body)
