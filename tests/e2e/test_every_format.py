"""One small document per supported format, uploaded through the gateway and retrieved.

Each file states one distinctive fact. After all are indexed, a question about
each fact must bring back a passage of that file first, carrying the structure
its format has: a heading path for Markdown, HTML and DOCX, a page for the PDF.
The HTML page has a navigation bar whose text must never be indexed.
"""

import asyncio
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

import docx
import pytest

from tests.e2e.stack import RunningStack, wait_final

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

INDEX_TIMEOUT_S = 90.0
NAV_MARKER = "Zorblax"  # a word that appears only in the HTML navigation bar

MARKDOWN = """\
# Lighthouse keeping

Notes for the keepers of the northern coast.

## Lamp maintenance

The brass lamp of the Kestrel Point lighthouse is polished every Thursday with
walnut oil, because the salt air pits the metal within a week.
"""

TEXT = """\
Bakery schedule

The sourdough starter at Millbrook Bakery is fed with rye flour at 4:30 every
morning, and the first loaves leave the oven at 6:15.
"""

HTML = f"""\
<!DOCTYPE html>
<html lang="en">
<head><title>Beekeeping almanac</title></head>
<body>
<nav class="navbar"><ul>
  <li><a href="/">{NAV_MARKER} home</a></li>
  <li><a href="/shop">{NAV_MARKER} shop</a></li>
  <li><a href="/login">{NAV_MARKER} account login</a></li>
</ul></nav>
<main><article>
<h1>Beekeeping almanac</h1>
<p>This almanac collects seasonal advice for hobby beekeepers who keep a few
hives in gardens and allotments. Each section covers one part of the year.</p>
<h2>Winter feeding</h2>
<p>Hives at the Oakridge apiary receive fondant made from cane sugar in early
January, when the colonies have eaten through their autumn honey stores.
Keepers lift the crown board only briefly so the cluster does not chill.</p>
<p>A hive that feels light when hefted from behind needs a second block of
fondant within two weeks, otherwise the colony may starve before spring.</p>
</article></main>
<footer><p>Copyright the almanac authors.</p></footer>
</body>
</html>
"""

CSV = """\
station,river,flood_level_m
Ashford Weir,Stour,4.2
Brindle Lock,Calder,7.9
Corvey Mill,Wensum,2.6
"""


@dataclass(frozen=True)
class Case:
    """A file to upload and the question its fact answers."""

    filename: str
    question: str
    fact: str  # a phrase the top passage must contain
    heading: bool = False
    page: bool = False


CASES = [
    Case(
        "lighthouse.md",
        "How often is the brass lamp of the lighthouse polished, and with what?",
        "walnut oil",
        heading=True,
    ),
    Case(
        "bakery.txt",
        "When is the sourdough starter at the bakery fed?",
        "rye flour",
    ),
    Case(
        "beekeeping.html",
        "What do the hives at the Oakridge apiary get fed in winter?",
        "fondant",
        heading=True,
    ),
    Case(
        "shared-mime-info-spec.pdf",
        "How does shared-mime-info detect the MIME type of a file using magic rules?",
        "mime",  # the spec is not ours: any passage of it names MIME types
        page=True,
    ),
    Case(
        "orchard.docx",
        "Which frost protection do the apricot trees in the Hollow Lane orchard get?",
        "horticultural fleece",
        heading=True,
    ),
    Case(
        "rivers.csv",
        "What is the flood level of the Calder river at Brindle Lock station?",
        "7.9",
    ),
]


def write_docx(path: Path) -> None:
    """A Word file with a Heading 1 and the fact in a paragraph under it.

    No ``Title`` paragraph: it has no heading path, and a chunk starting with it
    is labelled with none, which would make the heading check test the chunker.
    """
    document = docx.Document()
    document.add_heading("Frost protection", level=1)
    document.add_paragraph(
        "The apricot trees in the Hollow Lane orchard are wrapped in horticultural "
        "fleece whenever the forecast drops below minus two degrees in March."
    )
    document.save(str(path))


def write_corpus(folder: Path, shared_dir: Path) -> list[Path]:
    """Every case's file in ``folder``, in ``CASES`` order."""
    (folder / "lighthouse.md").write_text(MARKDOWN, encoding="utf-8")
    (folder / "bakery.txt").write_text(TEXT, encoding="utf-8")
    (folder / "beekeeping.html").write_text(HTML, encoding="utf-8")
    shutil.copy(shared_dir / "corpus" / "pdf" / "shared-mime-info-spec.pdf", folder)
    write_docx(folder / "orchard.docx")
    (folder / "rivers.csv").write_text(CSV, encoding="utf-8")
    return [folder / case.filename for case in CASES]


@pytest.fixture(scope="module")
async def tenant(
    stack: RunningStack, shared_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A tenant holding one indexed document per format."""
    tenant = f"formats-{uuid.uuid4().hex[:8]}"
    paths = write_corpus(tmp_path_factory.mktemp("formats"), shared_dir)
    async with stack.client(tenant) as client:
        uploaded = await asyncio.gather(*(client.upload(path) for path in paths))
        docs = await wait_final(client, [d["id"] for d in uploaded], INDEX_TIMEOUT_S)
    not_indexed = {d["filename"]: d["error"] for d in docs.values() if d["status"] != "indexed"}
    assert not not_indexed, not_indexed
    assert sorted(d["filename"] for d in docs.values()) == sorted(c.filename for c in CASES)
    return tenant


@pytest.mark.parametrize("case", CASES, ids=[c.filename for c in CASES])
async def test_top_passage_comes_from_the_file(
    stack: RunningStack, tenant: str, case: Case
) -> None:
    async with stack.client(tenant) as client:
        passages = (await client.retrieve(case.question, top_k=5))["passages"]
    top = passages[0]
    assert top["filename"] == case.filename, passages
    assert case.fact.casefold() in top["text"].casefold(), top
    if case.heading:
        assert top["heading"], top
    if case.page:
        assert isinstance(top["page"], int) and top["page"] >= 1, top


async def test_html_navigation_is_not_indexed(stack: RunningStack, tenant: str) -> None:
    async with stack.client(tenant) as client:
        passages = (await client.retrieve(f"{NAV_MARKER} home shop account login", top_k=50))[
            "passages"
        ]
    assert passages, "the tenant's documents should be retrievable"
    assert all(NAV_MARKER not in p["text"] for p in passages)
