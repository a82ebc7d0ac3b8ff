"""Headless Chromium for the web app's tests: Debian's ``chromium`` driven by Playwright.

Playwright's own browser downloads are not used (``playwright install`` needs the
network); ``scripts/test.sh`` installs Debian's package when it is missing. Every page
records its console errors and uncaught exceptions, which a test asserts are none.
"""

import contextlib
import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, ConsoleMessage, Page, async_playwright

CHROMIUM = os.environ.get("RAGBUS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 375, "height": 740}
SCREENSHOTS = os.environ.get("RAGBUS_SCREENSHOTS")
"""Folder to save the screenshots in (``docs/screenshots`` to refresh the committed
ones); unset, they go to the test's temporary folder."""


@contextlib.asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    """A headless Chromium for the duration of the block."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Tab:
    """A page of its own browser context, with what went wrong on it.

    Attributes:
        page: The page.
        context: Its context (cookies and storage of its own).
        errors: Console errors and uncaught exceptions, in order.
    """

    page: Page
    context: BrowserContext
    errors: list[str] = field(default_factory=list)


async def open_tab(browser: Browser, url: str, viewport: dict[str, int] = DESKTOP) -> Tab:
    """A new context and page at ``url``, recording console errors."""
    context = await browser.new_context(viewport=viewport, accept_downloads=True)  # type: ignore[arg-type]
    context.set_default_timeout(20_000)
    page = await context.new_page()
    tab = Tab(page, context)

    def console(message: ConsoleMessage) -> None:
        if message.type == "error":
            tab.errors.append(f"console: {message.text}")

    page.on("console", console)
    page.on("pageerror", lambda exc: tab.errors.append(f"uncaught: {exc}"))
    await page.goto(url)
    return tab


async def sign_in_with_key(tab: Tab, key: str) -> None:
    """Sign in through the form with an API key, and wait for the library."""
    await tab.page.get_by_label("API key", exact=True).fill(key)
    await tab.page.get_by_role("button", name="Sign in").click()
    await tab.page.locator("body[data-ready='library']").wait_for()


async def screenshot(tab: Tab, name: str, fallback: Path) -> Path:
    """Save the page as ``<name>.png`` (viewport only, to keep the file small)."""
    folder = Path(SCREENSHOTS) if SCREENSHOTS else fallback
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    await tab.page.evaluate("document.getElementById('toast').hidden = true")
    await tab.page.screenshot(path=str(path), animations="disabled", caret="hide")
    return path
