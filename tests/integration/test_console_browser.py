"""The console page in a real headless browser (Chromium through Selenium), against the whole local backend.

The page talks through the TypeScript client's bundle (clients/typescript, built by `make setup`) in
binary protobuf frames; without the bundle these tests are skipped and say how to build it.

Needs `chromium` and `chromedriver` (Debian: `apt-get install chromium chromium-driver`; `make test`
installs them where it can). Without them these tests are skipped, and the reason is in pytest's
summary.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from aicore.auth import Role
from aicore.local.console import CLIENT_BUNDLE
from aicore.local.faults import Fault, FaultKind
from aicore.local.runtime import LocalRuntime, local_token
from aicore.local.speech_server import PiperEngine
from aicore.voice.audio import LISTEN_CHUNK_MAX_BYTES, SAMPLE_BYTES, SAMPLE_RATE, chunks_of
from tests.clients import http_json

selenium = pytest.importorskip(
    "selenium", reason="selenium is not installed (the dev extras pin it: make setup)"
)
from selenium import webdriver  # noqa: E402
from selenium.common.exceptions import TimeoutException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.remote.webelement import WebElement  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

pytestmark = pytest.mark.model
TURN_TIMEOUT_S = 180  # a real turn on a busy 2-core machine: a generous bound, not a performance assert
PAGE_TIMEOUT_S = 60
GOLD = "aicore-local-gold"
SILVER = "aicore-local-silver"
SPOKEN = "What is the weather like in the valley today?"
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
T = TypeVar("T")


def _browser_binaries() -> tuple[str, str] | str:
    """(chromium, chromedriver), or why there is none."""
    chromium = next(
        (
            path
            for path in (
                os.environ.get("AICORE_CHROMIUM"),
                "/usr/lib/chromium/chromium",  # Debian's binary (/usr/bin/chromium is a wrapper script)
                shutil.which("chromium"),
                shutil.which("chromium-browser"),
                shutil.which("google-chrome"),
            )
            if path and Path(path).exists()
        ),
        None,
    )
    driver = os.environ.get("AICORE_CHROMEDRIVER") or shutil.which("chromedriver")
    if chromium is None or driver is None:
        missing = " and ".join(n for n, p in (("chromium", chromium), ("chromedriver", driver)) if p is None)
        return (
            f"no headless browser: {missing} not found. Install them (Debian: apt-get install chromium "
            "chromium-driver; make test does it where it may) to run the console's browser tests."
        )
    return chromium, driver


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    found = _browser_binaries()
    if isinstance(found, str):
        pytest.skip(found)
    if not CLIENT_BUNDLE.is_file():
        pytest.skip(f"the console's TypeScript client is not built (no {CLIENT_BUNDLE}): run make setup")
    chromium, driver_path = found
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=driver_path))
    driver.set_page_load_timeout(PAGE_TIMEOUT_S)
    yield driver
    driver.quit()


@pytest.fixture
def page(browser: Any, runtime: LocalRuntime) -> Iterator[Any]:
    """The console on a phone-sized viewport, connected."""
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": 390, "height": 740, "deviceScaleFactor": 2, "mobile": True},
    )
    browser.get(runtime.gateway.gateway.url + "/")
    wait_for(
        browser, lambda: browser.find_element(By.ID, "status").get_attribute("data-state") == "connected"
    )
    wait_for(browser, lambda: len(browser.find_elements(By.CSS_SELECTOR, "#npcs button")) >= 3)
    yield browser
    runtime.faults.clear()


def wait_for(driver: Any, condition: Callable[[], T], timeout_s: float = PAGE_TIMEOUT_S) -> T:
    try:
        return WebDriverWait(driver, timeout_s, poll_frequency=0.1).until(lambda _: condition())
    except TimeoutException:
        log = driver.find_element(By.ID, "log").text
        raise AssertionError(f"not within {timeout_s} s; the log reads:\n{log}") from None


def pick(driver: Any, npc_id: str) -> None:
    driver.find_element(By.CSS_SELECTOR, f'#npcs button[data-npc="{npc_id}"]').click()
    wait_for(driver, lambda: driver.find_element(By.ID, "text").is_enabled())


def say(driver: Any, text: str) -> None:
    box = driver.find_element(By.ID, "text")
    driver.execute_script("arguments[0].value = arguments[1]", box, text)  # long texts: faster than typing
    driver.find_element(By.ID, "send").click()


def lines(driver: Any, selector: str) -> list[WebElement]:
    return list(driver.find_elements(By.CSS_SELECTOR, f"#log {selector}"))


def replies(driver: Any) -> list[WebElement]:
    return lines(driver, ".line.npc:not(.history)")


def last_meta(driver: Any) -> str:
    metas = lines(driver, ".line.meta")
    return str(metas[-1].text) if metas else ""


def geometry(driver: Any) -> dict[str, float]:
    return dict(
        driver.execute_script(
            """const log = document.getElementById("log"), input = document.getElementById("text");
            const box = input.getBoundingClientRect();
            return {inputTop: box.top, inputBottom: box.bottom, viewport: window.innerHeight,
                    page: document.documentElement.scrollHeight, logScroll: log.scrollHeight,
                    logHeight: log.clientHeight, logScrollWidth: log.scrollWidth,
                    logWidth: log.clientWidth};"""
        )
    )


def status(driver: Any, attribute: str) -> str | None:
    value = driver.find_element(By.ID, "status").get_attribute(attribute)
    return None if value is None else str(value)


def test_the_page_speaks_protobuf_and_a_reply_streams_in_token_by_token(page: Any) -> None:
    # Given the console, connected: the server agreed to the binary subprotocol, and says so in the welcome
    wait_for(page, lambda: status(page, "data-welcome"))
    assert status(page, "data-protocol") == "aicore.proto.v1"
    assert status(page, "data-welcome") == "aicore.proto.v1"

    # When the player talks to Borin (a real model turn)
    pick(page, "borin")
    say(page, "Tell me about the forge and the iron you work, please.")

    # Then his reply is rendered token frame by token frame before the reply frame ends the turn
    wait_for(page, lambda: "first token" in last_meta(page) or "scripted" in last_meta(page), TURN_TIMEOUT_S)
    # the runtime has the longest deadlines: the model answers, not a scripted line
    assert "scripted" not in last_meta(page), last_meta(page)
    reply_line = replies(page)[-1]
    assert int(reply_line.get_attribute("data-tokens-before-reply") or 0) >= 3
    name, _, reply = reply_line.text.partition(": ")
    assert name.startswith("Borin")
    assert reply


def test_a_dropped_connection_shows_reconnecting_then_resumed(page: Any) -> None:
    # Given a conversation, and the status line's changes recorded as they happen
    pick(page, "mira")
    say(page, "Good evening.")
    wait_for(page, lambda: "first token" in last_meta(page) or "scripted" in last_meta(page), TURN_TIMEOUT_S)
    page.execute_script(
        """const line = document.getElementById("status");
        window.statusSeen = [];
        new MutationObserver(() => statusSeen.push(line.textContent))
            .observe(line, {childList: true, characterData: true, subtree: true});
        client.simulateDrop();"""
    )

    # Then the page shows it reconnecting, then resumed from where it was, in protobuf still
    wait_for(page, lambda: status(page, "data-resumed") == "1")
    seen = page.execute_script("return statusSeen")
    assert any(text.startswith("reconnecting") for text in seen), seen
    assert "resumed (aicore.proto.v1)" in page.find_element(By.ID, "status").text
    assert status(page, "data-state") == "connected"


def test_a_turn_streams_in_and_the_history_comes_back_after_a_reload(page: Any) -> None:
    # Given the console on a phone, talking to Mira
    pick(page, "mira")
    say(page, "Hello there, do you have a room?")

    # Then her reply arrives, with how it was made
    wait_for(page, lambda: "first token" in last_meta(page) or "scripted" in last_meta(page), TURN_TIMEOUT_S)
    name, _, reply = replies(page)[-1].text.partition(": ")
    assert name.startswith("Mira")
    assert reply

    # When the page is loaded again and Mira picked, the conversation so far is shown
    page.refresh()
    wait_for(page, lambda: page.find_element(By.ID, "status").get_attribute("data-state") == "connected")
    wait_for(page, lambda: page.find_elements(By.CSS_SELECTOR, '#npcs button[data-npc="mira"]'))
    pick(page, "mira")
    wait_for(
        page,
        lambda: any(
            "Hello there, do you have a room?" in e.text for e in lines(page, ".line.player.history")
        ),
    )


def test_the_log_scrolls_long_words_wrap_and_the_input_stays_visible_on_a_phone(page: Any) -> None:
    pick(page, "borin")
    # Given far more lines than fit, and a word longer than the screen is wide
    page.execute_script(
        "for (let i = 0; i < 200; i++) line('meta', 'line ' + i); line('npc', 'Borin: ' + 'x'.repeat(600));"
    )

    shape = geometry(page)

    assert shape["logScroll"] > shape["logHeight"]  # the log scrolls ...
    assert shape["page"] <= shape["viewport"] + 1  # ... not the page
    assert 0 <= shape["inputTop"] < shape["inputBottom"] <= shape["viewport"]  # the input is on screen
    assert shape["logScrollWidth"] <= shape["logWidth"]  # the long word wraps


def test_an_error_shows_as_an_error_and_leaves_no_empty_npc_line(page: Any) -> None:
    pick(page, "sable")
    say(page, "x" * 2001)  # over the 2000 characters a line may have

    wait_for(page, lambda: lines(page, ".line.error"))
    assert lines(page, ".line.error")[-1].text.startswith("[invalid_request] ")
    assert replies(page) == []


def test_scripted_and_cut_replies_are_marked(page: Any, runtime: LocalRuntime) -> None:
    pick(page, "borin")
    # Given no tier can answer, the NPC says a scripted line, marked as such with the reason
    # (a few times each: the runtime's background work, a storyteller beat or a summary, may ask silver too)
    runtime.faults.inject(Fault(endpoint=GOLD, kind=FaultKind.MODEL_ERROR, times=5))
    runtime.faults.inject(Fault(endpoint=SILVER, kind=FaultKind.MODEL_ERROR, times=5))
    say(page, "Can you mend my sword?")
    wait_for(page, lambda: lines(page, ".line.npc.scripted"), TURN_TIMEOUT_S)
    assert "scripted line" in last_meta(page)
    assert "--deadline-scale" in last_meta(page)
    runtime.faults.clear()

    # Given a stream that breaks after a few tokens, the reply is marked cut
    runtime.faults.inject(Fault(endpoint=GOLD, kind=FaultKind.CUT, after_chunks=3, times=1))
    say(page, "And my shield?")
    wait_for(page, lambda: lines(page, ".line.npc.truncated"), TURN_TIMEOUT_S)
    assert "cut" in last_meta(page)


def test_what_is_said_while_disconnected_waits_and_is_sent_on_reconnect(page: Any) -> None:
    pick(page, "mira")
    before = len(replies(page))

    # When the connection drops and the player says something at once
    queued = page.execute_script(
        """client.simulateDrop();
        document.getElementById("text").value = "Are you still there?";
        document.getElementById("say").requestSubmit();
        return document.querySelectorAll("#log .badge").length;"""
    )

    # Then it is shown as waiting, not lost, and answered once the page has reconnected
    assert queued == 1
    answered = lambda: len(replies(page)) > before and replies(page)[-1].text.startswith("Mira")  # noqa: E731
    wait_for(page, answered, TURN_TIMEOUT_S)
    assert lines(page, ".badge:not(.warn)") == []


def test_a_reply_shows_mood_relationship_and_phrases_and_world_updates_reach_the_feed(
    page: Any, runtime: LocalRuntime
) -> None:
    # Given the console talking to Vex, who speaks Ashtongue (a phrase in every reply)
    pick(page, "vex")
    say(page, "Who collects the toll on the pass?")

    # Then the reply shows the phrase with its meaning or how far the player is from it, and Vex's mind
    wait_for(page, lambda: "first token" in last_meta(page) or "scripted" in last_meta(page), TURN_TIMEOUT_S)
    phrase = lines(page, ".line.phrase")[-1].text
    assert re.fullmatch(r"«.+» \(ashtongue\): (not understood yet \(proficiency \d+\)|\S.*)", phrase), phrase
    assert lines(page, ".line.mind")[-1].text.startswith("mood: ")
    assert "Vex thinks you are" in lines(page, ".line.mind")[-1].text

    # When a game server changes a fact of the world the page subscribed to on connect
    wait_for(page, lambda: page.find_element(By.ID, "feed").get_attribute("data-subscribed") == "demo")
    key = f"console_{uuid.uuid4().hex[:8]}"
    game_server = local_token("gs-console", "demo", (Role.GAME_SERVER,))
    url = f"{runtime.gateway.gateway.url}/worlds/demo/facts/{key}"
    assert http_json(url, game_server, "PUT", {"value": "raised"}, {"If-Match": "0"})[0] == 200

    # Then the update shows in the world feed
    def shown() -> bool:
        facts = [e.text for e in page.find_elements(By.CSS_SELECTOR, "#updates .update.fact")]
        return any(key in text and '"raised"' in text for text in facts)

    wait_for(page, shown)


# Runs in the console's page: the TypeScript client's own bundle, a connection of its own, one
# utterance through `listen`, and the turn it starts.
LISTEN_SCRIPT = """
const [token, chunks, done] = arguments;
(async () => {
  const aicore = await import("/console/aicore-client.js");
  const url = location.origin.replace(/^http/, "ws") + "/ws";
  const client = await aicore.connect(url, token, { encoding: "protobuf", turnTimeoutMs: %d });
  try {
    const { transcript, turn } = await client.listen("mira", chunks.map(aicore.base64Decode));
    const tokens = [];
    const reply = await turn.stream((text) => tokens.push(text));
    return { transcript, reply: reply.text, tokens, protocol: client.protocol };
  } finally {
    client.close();
  }
})().then(done, (failure) => done({ failure: String(failure) }));
"""


def test_the_typescript_client_speaks_to_an_npc_through_listen(page: Any) -> None:
    # Given a question in Piper's voice, then a second of quiet, in chunks of at most 0.5 s
    spoken = PiperEngine().synthesize(SPOKEN, SAMPLE_RATE) + bytes(SAMPLE_RATE * SAMPLE_BYTES)
    chunks = [base64.b64encode(chunk).decode() for chunk in chunks_of(spoken, LISTEN_CHUNK_MAX_BYTES)]
    token = local_token(f"browser-listener-{uuid.uuid4().hex[:8]}", "demo")

    # When the page's TypeScript client sends it with listen(), in binary frames
    page.set_script_timeout(TURN_TIMEOUT_S)
    answer = page.execute_async_script(LISTEN_SCRIPT % (TURN_TIMEOUT_S * 1000), token, chunks)

    # Then the server wrote the question down and the turn it started streamed its reply
    assert "failure" not in answer, answer
    assert answer["protocol"] == "aicore.proto.v1"
    assert answer["transcript"]["ended_by"] == "silence"
    assert {"weather", "today"} <= set(answer["transcript"]["text"].split()), answer["transcript"]
    assert answer["reply"]
    assert "".join(answer["tokens"]) == answer["reply"]
