"""Bad uploads through the gateway: each fails alone, clearly, and the worker goes on.

Every bad file is generated here. Those the gateway refuses get an HTTP error; the
others are uploaded in one request together with good documents, and each must
reach its final state: bad ones ``failed`` with a code and a message naming the
problem, good ones ``indexed`` and answerable.
"""

import asyncio
import contextlib
import io
import random
import uuid
import zipfile
from collections.abc import AsyncIterator

import httpx
import pytest
from pypdf import PdfReader, PdfWriter

from gateway.settings import GatewaySettings
from ragbus.settings import InfraSettings
from tests.e2e.stack import RunningStack, running_stack, wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(900)]

#: Upload limit of this module's gateway: above the 10 MB line, far below 50 MiB.
MAX_UPLOAD_BYTES = 16 * 1024 * 1024

#: A realistic cp1252 paragraph (charset-normalizer needs some text to tell
#: windows-1252 from its Baltic and Central European siblings).
LEGACY_TEXT = """Compte rendu de la réunion du comité

Le comité s'est réuni à Genève le 12 décembre. Après un débat animé, les délégués ont
approuvé le budget de l'année prochaine. La trésorière a présenté les dépenses: le café
coûte désormais 3,50 francs et la crème brûlée de la cantine a été jugée trop chère.
Le président a remercié l'équipe pour la qualité du travail effectué cet été, malgré
les difficultés rencontrées avec le système de réservation. Prochaine réunion: à Noël.
"""

GOOD_MARKDOWN = """# Zorblax reactor manual

## Cooling

The zorblax reactor cooling loop runs on heavy water at 42 degrees Celsius.
Operators must check the cooling loop pressure every morning before start-up.
"""

GOOD_CSV = """name,born,field
Ada Lovelace,1815,mathematics and the analytical engine
Grace Hopper,1906,compilers and COBOL
Alan Turing,1912,computability and codebreaking
"""


def minimal_pdf(pages: list[str]) -> bytes:
    """A valid PDF with one line of Helvetica text per page."""
    count = len(pages)
    font = 3 + 2 * count
    kids = " ".join(f"{3 + 2 * i} 0 R" for i in range(count))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {count} >>".encode(),
    ]
    for i, text in enumerate(pages):
        content = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode()
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {4 + 2 * i} 0 R"
            f" /Resources << /Font << /F1 {font} 0 R >> >> >>".encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content))
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def encrypted_pdf() -> bytes:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(minimal_pdf(["Top secret plans"]))))
    writer.encrypt(user_password="secret", owner_password="owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx_bomb(inflated_bytes: int = 120 * 1024 * 1024) -> bytes:
    """A ~120 KB DOCX whose word/document.xml inflates to over 100 MB."""
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as package:
        package.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats'
            '-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-'
            'officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        package.writestr(
            "_rels/.rels",
            '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/'
            '2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
            'officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/>'
            "</Relationships>",
        )
        package.writestr(
            "word/document.xml",
            f'<?xml version="1.0"?><w:document {w}><w:body><w:p><w:r><w:t>'
            + " " * inflated_bytes
            + "boom</w:t></w:r></w:p></w:body></w:document>",
        )
    return out.getvalue()


@pytest.fixture(scope="module")
async def bad_stack(
    nats_url: str, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[RunningStack]:
    """The whole stack in this process, its gateway limited to MAX_UPLOAD_BYTES.

    ``tests.e2e.stack.running_stack`` with gateway settings of our own.
    """
    infra = InfraSettings(
        nats_url=nats_url, database_url=database_url, data_dir=tmp_path_factory.mktemp("bad")
    )
    gateway = GatewaySettings(max_upload_bytes=MAX_UPLOAD_BYTES)
    async with running_stack(infra, gateway=gateway, name="ragbus-bad") as running:
        yield running


@pytest.fixture
def tenant() -> str:
    return f"bad-{uuid.uuid4().hex[:8]}"


@contextlib.asynccontextmanager
async def http(stack: RunningStack, tenant: str) -> AsyncIterator[httpx.AsyncClient]:
    headers = await stack.headers(tenant)
    async with httpx.AsyncClient(base_url=stack.url, headers=headers, timeout=120) as client:
        yield client


async def test_too_large_is_413(bad_stack: RunningStack, tenant: str) -> None:
    files = [("file", ("huge.txt", b"a" * (MAX_UPLOAD_BYTES + 1), "text/plain"))]
    async with http(bad_stack, tenant) as client:
        response = await client.post("/v1/documents", files=files)
        listed = (await client.get("/v1/documents")).json()["documents"]
    assert response.status_code == 413
    assert response.json()["detail"] == (
        f"huge.txt is larger than the {MAX_UPLOAD_BYTES}-byte upload limit"
    )
    assert listed == []


async def test_unsupported_type_is_415(bad_stack: RunningStack, tenant: str) -> None:
    files = [("file", ("setup.exe", b"MZ\x90\x00" + bytes(2000), "application/octet-stream"))]
    async with http(bad_stack, tenant) as client:
        response = await client.post("/v1/documents", files=files)
    assert response.status_code == 415
    assert response.json()["detail"].startswith("setup.exe: unsupported file type .exe;")


async def test_bad_documents_fail_alone_and_good_ones_are_indexed(
    bad_stack: RunningStack, tenant: str
) -> None:
    rng = random.Random(7)
    line = rng.randbytes(5 * 1024 * 1024).hex().encode()  # one 10 MiB line, no newline
    disguised = minimal_pdf(
        ["Disguised manual cover", "The disguised flux capacitor needs 88 gigawatts"]
    )
    uploads = {
        "empty.txt": (b"", "text/plain"),
        "corrupt.pdf": (b"%PDF-1.7\n" + rng.randbytes(4000), "application/pdf"),
        "encrypted.pdf": (encrypted_pdf(), "application/pdf"),
        "bomb.docx": (
            docx_bomb(),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        "binary.txt": (rng.randbytes(20_000), "text/plain"),
        "legacy.txt": (LEGACY_TEXT.encode("cp1252"), "text/plain"),
        "one-line.txt": (line, "text/plain"),
        "disguised.md": (disguised, "text/markdown"),
        "zorblax.md": (GOOD_MARKDOWN.encode(), "text/markdown"),
        "people.csv": (GOOD_CSV.encode(), "text/csv"),
    }
    files = [("file", (name, data, kind)) for name, (data, kind) in uploads.items()]
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with http(bad_stack, tenant) as client:
        response = await client.post("/v1/documents", files=files)
    assert response.status_code == 202, response.text
    ids = {d["filename"]: d["id"] for d in response.json()["documents"]}
    assert set(ids) == set(uploads)

    async with bad_stack.client(tenant) as client:
        docs = await wait_final(client, list(ids.values()), 600)
        elapsed = loop.time() - started
        by_name = {doc["filename"]: doc for doc in docs.values()}
        print(f"\nall {len(by_name)} uploads final after {elapsed:.1f} s")

        expected_failures = {
            "empty.txt": ("empty_document", "empty"),
            "corrupt.pdf": ("parse_failed", "corrupt PDF"),
            "encrypted.pdf": ("encrypted_pdf", "password"),
            # Refused from the zip directory's sizes, before anything is inflated.
            "bomb.docx": ("decompression_limit", "decompression limit"),
            "binary.txt": ("parse_failed", "binary content"),
        }
        for name, (code, words) in expected_failures.items():
            doc = by_name[name]
            assert (doc["status"], doc["error_code"]) == ("failed", code), doc
            assert name in doc["error"] and words in doc["error"], doc

        for name in ("legacy.txt", "one-line.txt", "disguised.md", "zorblax.md", "people.csv"):
            doc = by_name[name]
            assert doc["status"] == "indexed", doc
            assert doc["progress"]["done"] == doc["progress"]["total"] == doc["chunks"] > 0
        # 10 MiB of one word: cut at the 4096-character chunk cap (with overlap).
        assert len(line) // 4096 <= by_name["one-line.txt"]["chunks"] < len(line) // 2048

        legacy = await client.retrieve("Combien coûte le café et la crème brûlée à Genève?")
        passages = [p for p in legacy["passages"] if p["filename"] == "legacy.txt"]
        assert passages and "crème brûlée" in passages[0]["text"], legacy
        assert "Genève" in passages[0]["text"] and "coûte" in passages[0]["text"]

        pdf = await client.retrieve("How many gigawatts does the disguised flux capacitor need?")
        pages = [p["page"] for p in pdf["passages"] if p["filename"] == "disguised.md"]
        assert pages and pages[0] == 2, pdf

        csv_hits = await client.retrieve("Who worked on compilers and COBOL?")
        rows = [p["text"] for p in csv_hits["passages"] if p["filename"] == "people.csv"]
        assert rows and "name: Grace Hopper\nborn: 1906" in rows[0], csv_hits

        answer = await client.query("At what temperature does the zorblax cooling loop run?")
    assert answer["found"] is True, answer
    assert "zorblax.md" in [c["filename"] for c in answer["citations"]], answer
    assert "42 degrees" in answer["answer"], answer
