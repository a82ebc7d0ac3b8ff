"""``ingest_svc.upload_rows``: the row ingest reads per upload, and when it announces parsing."""

import uuid
from typing import Any

import pytest

from ingest_svc.upload_rows import PARSING_ANNOUNCED_BYTES, announces_parsing, claim
from ragbus.errors import ForbiddenError
from schemas import DocumentUploaded

pytestmark = pytest.mark.unit


def upload(**fields: Any) -> DocumentUploaded:
    doc_id = uuid.uuid4()
    defaults: dict[str, Any] = dict(
        tenant_id="t", document_id=doc_id, filename="a.txt", blob_key=f"t/{doc_id}/a.txt"
    )
    return DocumentUploaded(**{**defaults, **fields})


@pytest.mark.parametrize(
    ("fields", "announced"),
    [
        ({"size_bytes": 1500, "content_type": "text/plain"}, False),
        ({"size_bytes": PARSING_ANNOUNCED_BYTES - 1}, False),
        ({"size_bytes": PARSING_ANNOUNCED_BYTES}, True),
        ({"size_bytes": 2000, "content_type": "application/pdf"}, True),
    ],
)
def test_only_a_large_upload_or_a_pdf_is_announced_parsing(
    fields: dict[str, Any], announced: bool
) -> None:
    assert announces_parsing(upload(**fields)) is announced


def test_an_inline_text_counts_its_characters() -> None:
    small = upload(blob_key=None, inline_text="short note")
    large = upload(blob_key=None, inline_text="x" * PARSING_ANNOUNCED_BYTES)
    assert not announces_parsing(small)
    assert announces_parsing(large)


class Rows:
    """The three repository calls ``claim`` may make, recorded."""

    def __init__(self, mine: bool, elsewhere: bool) -> None:
        self.mine, self.elsewhere, self.calls = mine, elsewhere, []

    async def get(self, tenant_id: str, document_id: uuid.UUID) -> str | None:
        self.calls.append("get")
        return "row" if self.mine else None

    async def held_elsewhere(self, tenant_id: str, document_id: uuid.UUID) -> bool:
        self.calls.append("held_elsewhere")
        return self.elsewhere

    async def create(self, tenant_id: str, document_id: uuid.UUID, **row: Any) -> tuple[str, bool]:
        self.calls.append("create")
        assert row["version"] == 1 and row["filename"] == "a.txt"
        return "created", True


async def test_the_gateways_row_is_one_read() -> None:
    rows = Rows(mine=True, elsewhere=False)
    assert await claim(rows, upload()) == "row"  # type: ignore[arg-type]
    assert rows.calls == ["get"]


async def test_a_row_the_tenant_lacks_is_checked_then_made() -> None:
    rows = Rows(mine=False, elsewhere=False)
    assert await claim(rows, upload()) == "created"  # type: ignore[arg-type]
    assert rows.calls == ["get", "held_elsewhere", "create"]
    taken = Rows(mine=False, elsewhere=True)
    with pytest.raises(ForbiddenError, match="another tenant"):
        await claim(taken, upload())  # type: ignore[arg-type]
    assert taken.calls == ["get", "held_elsewhere"]
