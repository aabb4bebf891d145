"""Browser tests: a real `fitsync demo` server on embedded stores, driven by headless Chromium.

Chromium comes from Debian (`apt-get install chromium`, which `.ci/run` does); Playwright
for Python drives it (its own browser download cannot work here). Screenshots of the main
pages go to `artifacts/screenshots/`.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
DEMO_PASSWORD = "fitsync-demo-2026"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def base_url() -> Iterator[str]:
    if not Path(CHROMIUM).exists():
        if os.environ.get("CI"):
            pytest.fail("chromium is missing: .ci/run installs it with apt-get")
        pytest.skip("chromium is not installed (apt-get install chromium)")
    data_dir = Path(tempfile.mkdtemp(prefix="fitsync-web-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("FITSYNC_")}
    port = _free_port()
    env.update(FITSYNC_DATA_DIR=str(data_dir), FITSYNC_SECRET_KEY="web-test-" + "s" * 40)
    log = (data_dir.parent / f"{data_dir.name}.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "fitsync", "demo", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(url + "/readyz", timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert proc.poll() is None, Path(log.name).read_text()
            assert time.monotonic() < deadline, "the demo server did not start"
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(60)
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield instance
        instance.close()


@pytest.fixture
def page(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 860})
    tab = context.new_page()
    yield tab
    context.close()


@pytest.fixture
def phone(browser: Browser, base_url: str) -> Iterator[Page]:
    context = browser.new_context(
        base_url=base_url, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    tab = context.new_page()
    yield tab
    context.close()


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def log_in(page: Page, email: str, password: str = DEMO_PASSWORD) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url("**/")


def sign_up(page: Page, first: str, last: str, email: str, gym: str = "Iron & Oak Fitness") -> None:
    """Sign up as a new member of ``gym`` (choosing it when the page offers several)."""
    page.goto("/signup")
    if page.get_by_label("Gym").count():
        page.get_by_label("Gym").select_option(label=gym)
    page.get_by_label("First name").fill(first)
    page.get_by_label("Last name").fill(last)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a-strong-passphrase-42")
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/")


def open_menu(page: Page) -> None:
    """On a phone the navigation sits behind a Menu button: open it (elsewhere, nothing to do)."""
    menu = page.get_by_role("button", name="Menu", exact=True)
    if menu.is_visible() and menu.get_attribute("aria-expanded") != "true":
        menu.click()


def log_out(page: Page) -> None:
    open_menu(page)
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url("**/")


def go(page: Page, label: str) -> None:
    """Follow an entry of the main navigation (through the Menu button on a phone)."""
    open_menu(page)
    page.get_by_role("navigation", name="Main").get_by_role("link", name=label, exact=True).click()
