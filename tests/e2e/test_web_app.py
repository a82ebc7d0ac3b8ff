"""The web app in headless Chromium against a real stack: one story, test by test.

An admin signs in with an API key, uploads three files of the shared corpus and a
corrupt PDF, watches them progress, asks questions with streamed answers and
citations, continues the conversation, deletes a document, and uses the admin
pages; a reader signs in and finds no write controls, and the API refuses the
reader's token. The tests share the module's stack, browser and tenant and run in
file order. Screenshots go to ``$RAGBUS_SCREENSHOTS`` (see tests/e2e/browser.py).
"""

import asyncio
import random
import re
import uuid
from pathlib import Path

import httpx
import pytest
from playwright.async_api import expect

from tests.e2e.browser import PHONE, Tab, chromium, open_tab, screenshot, sign_in_with_key

pytestmark = [pytest.mark.e2e, pytest.mark.slow, pytest.mark.timeout(300)]

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "nodejs-api"
FILES = ["timers.md", "querystring.md", "punycode.md"]
IN_PROGRESS = {"uploading", "uploaded", "parsing", "embedding"}

# Records every status each document row shows: rows are replaced on each change.
WATCH_ROWS = """() => {
  window.seen = {};
  const note = (tr) => {
    const name = tr.querySelector("td.name span")?.textContent;
    if (!name) return;
    const list = (window.seen[name] ??= []);
    const entry = tr.dataset.status + "|" + (tr.querySelector(".chunks")?.textContent ?? "");
    if (list[list.length - 1] !== entry) list.push(entry);
  };
  new MutationObserver((changes) => {
    for (const c of changes) for (const n of c.addedNodes) if (n.tagName === "TR") note(n);
  }).observe(document.getElementById("doc-rows"), { childList: true });
}"""
# Samples the last answer every 20 ms, to see its text arrive piece by piece.
WATCH_ANSWER = """() => {
  window.pieces = [];
  setInterval(() => {
    const all = document.querySelectorAll("#thread .answer");
    const last = all[all.length - 1];
    if (!last) return;
    const entry = [last.textContent, last.parentElement.querySelectorAll(".chip").length];
    const prev = window.pieces[window.pieces.length - 1];
    if (!prev || prev[0] !== entry[0] || prev[1] !== entry[1]) window.pieces.push(entry);
  }, 20);
}"""


@pytest.fixture(scope="module")
def tenant() -> str:
    """The module's tenant."""
    return f"web-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
async def browser():
    """One headless Chromium for the module."""
    async with chromium() as b:
        yield b


@pytest.fixture(scope="module")
async def admin(stack, browser, tenant):
    """The admin's tab, signed in with an API key."""
    tab = await open_tab(browser, stack.url)
    await sign_in_with_key(tab, await stack.key(tenant, "admin"))
    yield tab
    await tab.context.close()


@pytest.fixture
def no_console_errors(admin: Tab):
    """Fail a test that made the admin's page log an error."""
    admin.errors.clear()
    yield
    assert admin.errors == []


async def ask(tab: Tab, question: str) -> None:
    """Ask in the chat and wait until the answer is final (busy flag gone)."""
    await tab.page.get_by_label("Question").fill(question)
    await tab.page.get_by_role("button", name="Ask").click()
    await expect(tab.page.locator("#thread .assistant").last).not_to_have_attribute(
        "aria-busy", "true", timeout=60_000
    )
    await expect(tab.page.get_by_role("button", name="Ask")).to_be_enabled()


async def test_uploads_show_live_progress_until_indexed(admin, no_console_errors, tmp_path):
    page = admin.page
    await expect(page.locator("#who")).to_contain_text("admin")
    await page.evaluate(WATCH_ROWS)
    await page.locator("#file-input").set_input_files([CORPUS / f for f in FILES[:2]])
    # The third is dropped on the drop zone, as a file dragged from the desktop.
    await page.evaluate(
        """([name, text]) => {
          const data = new DataTransfer();
          data.items.add(new File([text], name, { type: "text/markdown" }));
          document.getElementById("dropzone").dispatchEvent(
            new DragEvent("drop", { dataTransfer: data, bubbles: true, cancelable: true }));
        }""",
        [FILES[2], (CORPUS / FILES[2]).read_text()],
    )
    for name in FILES:
        row = page.locator("#doc-rows tr", has_text=name)
        await expect(row).to_have_attribute("data-status", "indexed", timeout=120_000)
        await expect(row.locator(".chunks")).to_have_text(re.compile(r"^\d+(/\d+)? chunks$"))
    seen = await page.evaluate("window.seen")
    for name in FILES:
        statuses = [entry.split("|")[0] for entry in seen[name]]
        assert statuses[0] == "uploading" and statuses[-1] == "indexed", seen[name]
        assert set(statuses[:-1]) <= IN_PROGRESS and "uploaded" in statuses, seen[name]
    # The largest file (about 20 chunks) takes a second or so to embed: its row shows
    # the stage with the chunk count while it lasts.
    embedding = [e for e in seen["timers.md"] if e.startswith("embedding|")]
    assert embedding and embedding[0].endswith(" chunks"), seen["timers.md"]
    await expect(page.locator("#doc-count")).to_have_text("3 of 3 documents")
    # The same bytes again: the existing document, marked as a duplicate.
    await page.locator("#file-input").set_input_files(CORPUS / FILES[1])
    await expect(
        page.locator("#doc-rows tr", has_text=FILES[1]).locator(".badge.dup")
    ).to_be_visible()
    await expect(page.locator("#doc-count")).to_have_text("3 of 3 documents")
    await page.locator("#doc-status").select_option("failed")
    await expect(page.locator("#doc-count")).to_have_text("0 of 3 documents")
    await page.locator("#doc-status").select_option("all")
    await page.locator("#doc-search").fill("puny")
    await expect(page.locator("#doc-count")).to_have_text("1 of 3 documents")
    await page.locator("#doc-search").fill("")
    await screenshot(admin, "library-desktop", tmp_path)
    await page.set_viewport_size(PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(admin, "library-phone", tmp_path)
    await page.set_viewport_size({"width": 1280, "height": 800})


async def test_a_corrupt_pdf_shows_its_failure_reason(admin, no_console_errors):
    page = admin.page
    corrupt = b"%PDF-1.7\n" + random.Random(7).randbytes(4000)
    await page.locator("#file-input").set_input_files(
        {"name": "corrupt.pdf", "mimeType": "application/pdf", "buffer": corrupt}
    )
    stored = page.locator("#doc-rows tr:not([data-id^='upload-'])", has_text="corrupt.pdf")
    await expect(stored).to_have_count(1)  # the reply replaced the row of the upload
    row = page.locator(f"#doc-rows tr[data-id='{await stored.get_attribute('data-id')}']")
    await expect(row).to_have_attribute("data-status", "failed", timeout=60_000)
    await expect(row.locator(".error")).to_contain_text("parse_failed")
    await expect(row.locator(".error")).to_contain_text("PDF")


async def test_chat_streams_an_answer_with_citations_and_follows_up(
    admin, no_console_errors, tmp_path
):
    page = admin.page
    await page.get_by_role("link", name="Chat").click()
    await page.locator("body[data-ready='chat']").wait_for()
    await page.evaluate(WATCH_ANSWER)
    # The offline answerer writes its sentences at once; on a slow link (4 KB/s) they
    # arrive over a second or two, one SSE event after another, as an LLM's would.
    cdp = await admin.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    slow = {"offline": False, "latency": 0, "uploadThroughput": -1}
    await cdp.send("Network.emulateNetworkConditions", {**slow, "downloadThroughput": 4000})
    await ask(admin, "How do I schedule a function to run after a delay with setTimeout?")
    await cdp.send("Network.emulateNetworkConditions", {**slow, "downloadThroughput": -1})
    await cdp.detach()
    answer = page.locator("#thread .assistant").last
    chips = answer.locator(".chip")
    await expect(chips.first).to_be_visible()
    await expect(chips.filter(has_text="timers.md").first).to_be_visible()
    pieces = await page.evaluate("window.pieces")
    # Streamed: the text was on screen while the rest of the answer (its citations and
    # the final event, a few KB more) was still on its way.
    assert any(text and chips == 0 for text, chips in pieces), pieces
    await expect(answer.locator(".timings")).to_contain_text("total")
    await chips.first.click()
    dialog = page.locator("dialog#passage")
    await expect(dialog).to_be_visible()
    await expect(dialog.locator(".meta")).to_contain_text(".md")
    await expect(dialog.locator("blockquote mark").first).to_be_visible()
    await screenshot(admin, "chat-desktop", tmp_path)
    await page.set_viewport_size(PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(admin, "chat-phone", tmp_path)
    await dialog.get_by_role("button", name="Close").click()
    await page.set_viewport_size({"width": 1280, "height": 800})

    await ask(admin, "And how do I cancel it?")
    await expect(page.locator("#thread .assistant")).to_have_count(2)
    conversation = page.locator("#conversations .conversation")
    await expect(conversation).to_have_count(1)
    await expect(conversation).to_have_attribute("aria-current", "true")
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Export Markdown").click()
    exported = await asyncio.to_thread(Path(await (await download.value).path()).read_text)
    assert "setTimeout" in exported and "And how do I cancel it?" in exported
    # Reopened from the list, the conversation shows both turns with their chips.
    await page.get_by_role("button", name="New conversation").click()
    await expect(page.locator("#thread .msg")).to_have_count(0)
    await conversation.click()
    await expect(page.locator("#thread .assistant")).to_have_count(2)
    await expect(page.locator("#thread .assistant").first.locator(".chip").first).to_be_visible()


async def test_stop_ends_an_answer_while_it_streams(admin, no_console_errors):
    page = admin.page
    cdp = await admin.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    slow = {"offline": False, "latency": 0, "uploadThroughput": -1}
    await cdp.send("Network.emulateNetworkConditions", {**slow, "downloadThroughput": 300})
    await page.get_by_label("Question").fill("How do I cancel a timeout with clearTimeout?")
    await page.get_by_role("button", name="Ask").click()
    await page.get_by_role("button", name="Stop").click()
    last = page.locator("#thread .assistant").last
    await expect(last.locator(".error")).to_have_text("Stopped.")
    await expect(page.get_by_role("button", name="Ask")).to_be_enabled()
    await expect(page.get_by_role("button", name="Stop")).to_be_hidden()
    await cdp.send("Network.emulateNetworkConditions", {**slow, "downloadThroughput": -1})
    await cdp.detach()


async def test_a_deleted_document_is_no_longer_cited(admin, no_console_errors):
    page = admin.page
    await page.get_by_role("button", name="New conversation").click()
    question = "What is Punycode and which RFC defines it?"
    await ask(admin, question)
    chips = page.locator("#thread .assistant").last.locator(".chip")
    await expect(chips.filter(has_text="punycode.md").first).to_be_visible()

    await page.get_by_role("link", name="Library").click()
    await page.locator("body[data-ready='library']").wait_for()
    # Reprocessed: the next version runs through the pipeline again, live.
    await page.get_by_role("button", name="Reprocess querystring.md").click()
    row = page.locator("#doc-rows tr", has_text="querystring.md")
    await expect(row.locator(".badge", has_text="v2")).to_be_visible()
    await expect(row).to_have_attribute("data-status", "indexed", timeout=60_000)
    delete = page.get_by_role("button", name="Delete punycode.md")
    await delete.click()
    await expect(delete).to_have_text("Confirm delete")
    await delete.click()
    await expect(page.locator("#doc-rows tr", has_text="punycode.md")).to_have_count(0)

    await page.get_by_role("link", name="Chat").click()
    await page.get_by_role("button", name="New conversation").click()
    await ask(admin, question)
    last = page.locator("#thread .assistant").last
    await expect(last.locator(".answer")).not_to_be_empty()
    await expect(last.locator(".chip", has_text="punycode.md")).to_have_count(0)


async def test_admin_pages_history_dead_letters_and_keys(admin, no_console_errors, tmp_path):
    page = admin.page
    await page.get_by_role("link", name="Admin").click()
    await page.locator("body[data-ready='admin']").wait_for()
    history = page.locator("#history tbody tr")
    await expect(history.filter(has_text="setTimeout").first).to_contain_text("answered")
    await expect(history.filter(has_text="Punycode").first).to_contain_text(" ms")
    stages = page.locator("#health table").first.locator("tbody tr")
    await expect(stages).to_have_count(4)
    # The corrupt PDF was dead-lettered by ingest_svc; replaying it removes the letter.
    letter = page.locator("#health tr[data-letter]", has_text="parse_failed")
    await expect(letter).to_have_count(1)
    await expect(letter).to_contain_text("corrupt.pdf")
    letter = page.locator(f"#health tr[data-letter='{await letter.get_attribute('data-letter')}']")
    await screenshot(admin, "admin-desktop", tmp_path)
    await page.set_viewport_size(PHONE)
    assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    await screenshot(admin, "admin-phone", tmp_path)
    await page.set_viewport_size({"width": 1280, "height": 800})
    await letter.get_by_role("button").click()
    await expect(page.locator("#toast")).to_contain_text("Replayed on document.uploaded")
    await expect(letter).to_have_count(0)  # a failing re-run is a new letter, not this one

    await page.locator("#key-name").fill("ci-bot")
    await page.locator("#key-role").select_option("reader")
    await page.get_by_role("button", name="Create key").click()
    secret = page.locator("dialog#new-key output")
    await expect(secret).to_have_text(re.compile(r"^rbk_\w+"))
    await page.locator("dialog#new-key").get_by_role("button", name="Done").click()
    row = page.locator("#keys tbody tr", has_text="ci-bot")
    await expect(row).not_to_contain_text(await secret.text_content() or "-")
    await row.get_by_role("button", name="Revoke key ci-bot").click()
    await expect(row).to_contain_text("revoked")


async def test_a_reader_has_no_write_controls_and_the_api_refuses_it(stack, browser, tenant):
    tab = await open_tab(browser, stack.url)
    page = tab.page
    # Keyboard only: the key field has the focus, Enter signs in.
    await expect(page.get_by_label("API key", exact=True)).to_be_focused()
    await page.keyboard.type(await stack.key(tenant, "reader"))
    await page.keyboard.press("Enter")
    await page.locator("body[data-ready='library']").wait_for()
    await expect(page.locator("#who")).to_contain_text("reader")
    await expect(page.locator("#doc-rows tr", has_text="timers.md")).to_be_visible()
    await expect(page.locator("#dropzone")).to_be_hidden()
    await expect(page.get_by_role("button", name="Choose files")).to_have_count(0)
    await expect(page.get_by_role("button", name="Delete timers.md")).to_have_count(0)
    await expect(page.get_by_role("button", name="Reprocess timers.md")).to_have_count(0)
    await expect(page.get_by_role("link", name="Admin")).to_be_hidden()
    await page.get_by_role("link", name="Chat").click()
    await page.locator("body[data-ready='chat']").wait_for()
    await expect(page.get_by_role("complementary", name="Conversations")).to_be_hidden()
    await ask(tab, "How do I parse a query string?")
    await expect(page.locator("#thread .chip", has_text="querystring.md").first).to_be_visible()
    assert tab.errors == []

    # The reader's own session token, used directly: refused with 403.
    token = await page.evaluate("JSON.parse(sessionStorage.getItem('ragbus.session')).access_token")
    doc_id = await page.locator("#doc-rows tr", has_text="timers.md").get_attribute("data-id")
    async with httpx.AsyncClient(
        base_url=stack.url, headers={"Authorization": f"Bearer {token}"}
    ) as http:
        upload = await http.post("/v1/documents", json={"filename": "x.md", "text": "x"})
        delete = await http.delete(f"/v1/documents/{doc_id}")
        converse = await http.post("/v1/conversations", json={})
        listed = await http.get("/v1/documents")
    assert (upload.status_code, delete.status_code, converse.status_code) == (403, 403, 403)
    assert listed.status_code == 200 and any(d["id"] == doc_id for d in listed.json()["documents"])
    await tab.context.close()


async def test_password_sign_in_refreshes_silently_and_signs_out(stack, browser, tenant):
    async with httpx.AsyncClient(base_url=stack.url, headers=await stack.headers(tenant)) as http:
        made = await http.post(
            "/v1/admin/users",
            json={"name": "ada", "password": "correct horse battery", "role": "member"},
        )
        assert made.status_code == 201, made.text
    tab = await open_tab(browser, stack.url)
    page = tab.page
    await page.get_by_label("Tenant").fill(tenant)
    await page.get_by_label("User name").fill("ada")
    await page.get_by_label("Password").fill("wrong password!")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#signin-error")).to_contain_text("Sign-in refused")
    tab.errors.clear()  # the refused sign-in is a 401 the browser logs
    await page.get_by_label("Password").fill("correct horse battery")
    await page.get_by_role("button", name="Sign in").click()
    await page.locator("body[data-ready='library']").wait_for()
    await expect(page.locator("#who")).to_contain_text(f"ada · {tenant} · member")
    await expect(page.locator("#dropzone")).to_be_visible()

    # An access token about to expire is refreshed before the next call, unseen.
    before = await page.evaluate("JSON.parse(sessionStorage.getItem('ragbus.session'))")
    await page.evaluate(
        "async () => { (await import('/static/web/api.js')).current().expires_at = Date.now(); }"
    )
    await page.get_by_role("link", name="Chat").click()
    await page.locator("body[data-ready='chat']").wait_for()
    after = await page.evaluate("JSON.parse(sessionStorage.getItem('ragbus.session'))")
    assert after["refresh_token"] != before["refresh_token"]
    assert after["expires_at"] > before["expires_at"]
    await expect(page.locator("#toast")).to_be_hidden()

    await page.get_by_role("button", name="Sign out").click()
    await expect(page.get_by_label("API key", exact=True)).to_be_visible()
    async with httpx.AsyncClient(base_url=stack.url) as http:
        reused = await http.post("/v1/auth/refresh", json={"refresh_token": after["refresh_token"]})
    assert reused.status_code == 401
    assert tab.errors == []
    await tab.context.close()


async def test_api_docs_render_with_the_machine_offline(stack, browser):
    tab = await open_tab(browser, "about:blank")
    outside: list[str] = []

    async def local_only(route):
        host = route.request.url.split("/")[2] if "://" in route.request.url else ""
        if host and not host.startswith("127.0.0.1"):
            outside.append(route.request.url)
            await route.abort("internetdisconnected")
        else:
            await route.continue_()

    await tab.context.route("**/*", local_only)
    page = tab.page
    await page.goto(f"{stack.url}/docs")
    await expect(page.locator(".swagger-ui .info .title")).to_contain_text("ragbus")
    await expect(
        page.locator(".swagger-ui .opblock-summary-path", has_text="/v1/query").first
    ).to_be_visible()
    await page.goto(f"{stack.url}/redoc")
    await expect(page.locator("redoc h1, .api-info h1").first).to_contain_text("ragbus")
    await page.goto(f"{stack.url}/asyncapi")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("events")
    await expect(page.locator("code", has_text="document.uploaded").first).to_be_visible()
    await expect(page.locator("#schema-DocumentUploaded")).to_contain_text("filename")
    assert outside == []
    assert tab.errors == []
    await tab.context.close()


async def test_dead_letters_are_the_admins_own_tenants(stack, tenant):
    corrupt = b"%PDF-1.7\n" + random.Random(11).randbytes(3000)
    files = {"file": ("broken.pdf", corrupt, "application/pdf")}
    async with (
        httpx.AsyncClient(base_url=stack.url, headers=await stack.headers(tenant)) as owner,
        httpx.AsyncClient(base_url=stack.url, headers=await stack.headers("web-other")) as other,
        httpx.AsyncClient(
            base_url=stack.url, headers=await stack.headers(tenant, "member")
        ) as member,
    ):
        doc = (await owner.post("/v1/documents", files=files)).json()["documents"][0]
        for _ in range(200):
            listed = (await owner.get("/v1/admin/dead-letters")).json()["dead_letters"]
            mine = [d for d in listed if d["about"].get("document_id") == doc["id"]]
            if mine:
                break
            await asyncio.sleep(0.1)
        assert mine and mine[0]["error_code"] == "parse_failed", listed
        letter = mine[0]["id"]
        assert (await other.get("/v1/admin/dead-letters")).json() == {"dead_letters": []}
        assert (await other.post(f"/v1/admin/dead-letters/{letter}/replay")).status_code == 404
        assert (await member.get("/v1/admin/dead-letters")).status_code == 403
        assert (await member.post(f"/v1/admin/dead-letters/{letter}/replay")).status_code == 403
        assert (await owner.post("/v1/admin/dead-letters/999999999/replay")).status_code == 404
        replayed = await owner.post(f"/v1/admin/dead-letters/{letter}/replay")
        assert replayed.status_code == 200, replayed.text
        assert replayed.json()["subject"].startswith("document.uploaded.")
        after = (await owner.get("/v1/admin/dead-letters")).json()["dead_letters"]
        assert letter not in [d["id"] for d in after]
        pipeline = (await owner.get("/v1/admin/pipeline")).json()
        assert [s["stage"] for s in pipeline["stages"]] == [
            "ingest",
            "embed",
            "retrieve",
            "generate",
        ]
