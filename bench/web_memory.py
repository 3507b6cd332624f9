"""Memory of one WhatsApp Web session's Chromium under a page as heavy as WhatsApp Web.

    python bench/web_memory.py [--chats 400] [--messages 250] [--media 150] [--rows 1500]

The offline stand-in of WhatsApp Web (tests/fakes/whatsapp_web) is light: its scripts
are a few kB, while the real web.whatsapp.com loads megabytes of JavaScript and keeps
chats, messages, contacts and media thumbnails in memory. To see what the memory cap
(`memory_cap_mb`, anonymous memory of the Chromium tree) meets in real use, this runs
the real engine (launch flags, real wa-js, adapter) over the stand-in, logged in, and
then adds a synthetic load in the same page through an extra init script:

- ``chats`` x ``messages`` message objects shaped like WhatsApp's models (ids, bodies of
  40-400 characters, timestamps, ack state), kept in Map-based collections;
- ``media`` decoded 640x640 images (canvas -> ImageBitmap, as thumbnails and stickers
  are held decoded) plus their data URLs;
- ``rows`` rendered chat-list/message rows in the DOM with nested elements.

It prints the tree's RSS, PSS and anonymous memory (wacc.engines.web.browser.tree_memory)
and the page's JS heap at each stage: logged in; after the load; after 30 s of churn
(messages arriving, old ones dropped). Figures go to docs/performance.md.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from playwright.async_api import BrowserContext

from tests.fakes.whatsapp_web import FakeWhatsAppWeb
from wacc.engines.contract import EngineEvent, Ready
from wacc.engines.web.browser import js_heap_bytes, tree_memory
from wacc.engines.web.driver import PlaywrightDriver
from wacc.engines.web.engine import WebEngine

HEAVY = """
if (window.top === window && location.hostname === 'web.whatsapp.com') {
  window.__benchLoad = async (chats, perChat, media, rows) => {
    const words = 'hello order delivery thanks price when tomorrow invoice size colour address'.split(' ');
    const text = (n) => Array.from({length: n}, (_, i) => words[(i * 7 + n) % words.length]).join(' ');
    const store = window.__benchStore = {chats: new Map(), media: [], urls: []};
    for (let c = 0; c < chats; c++) {
      const id = `${15550000000 + c}@c.us`;
      const msgs = new Map();
      for (let m = 0; m < perChat; m++) {
        const key = `false_${id}_${c.toString(16)}${m.toString(16).padStart(12, '0')}`;
        msgs.set(key, {id: {fromMe: m % 3 === 0, remote: id, id: key, _serialized: key},
                       body: text(8 + (m * 13) % 70), t: 1700000000 + m * 60, ack: m % 4,
                       type: 'chat', notifyName: `Customer ${c}`, star: false});
      }
      store.chats.set(id, {id, name: `Customer ${c}`, msgs, unreadCount: c % 5});
    }
    for (let i = 0; i < media; i++) {
      const canvas = new OffscreenCanvas(640, 640);
      const g = canvas.getContext('2d');
      g.fillStyle = `hsl(${i * 37 % 360},60%,50%)`;
      g.fillRect(0, 0, 640, 640);
      g.fillStyle = '#fff';
      g.fillText(`media ${i}`, 20 + i % 400, 40 + i % 500);
      store.media.push(await createImageBitmap(canvas));
      const blob = await canvas.convertToBlob({type: 'image/png'});
      store.urls.push(URL.createObjectURL(blob));
    }
    const list = document.createElement('div');
    for (let r = 0; r < rows; r++) {
      const row = document.createElement('div');
      row.innerHTML = `<div><span>Customer ${r}</span><span>12:${r % 60}</span></div>` +
        `<div><span>${text(12)}</span><span>${r % 9}</span></div>` +
        `<img src="${store.urls[r % Math.max(1, store.urls.length)] || ''}" width="49" height="49">`;
      list.appendChild(row);
    }
    document.body.appendChild(list);
    return store.chats.size;
  };
  window.__benchChurn = (rounds) => {
    const store = window.__benchStore;
    for (let r = 0; r < rounds; r++) {
      for (const chat of store.chats.values()) {
        const first = chat.msgs.keys().next().value;
        chat.msgs.delete(first);
        const key = `false_${chat.id}_${Date.now().toString(16)}${r}`;
        chat.msgs.set(key, {id: {remote: chat.id, id: key, _serialized: key}, body: 'x'.repeat(200),
                            t: Date.now() / 1000, ack: 0, type: 'chat'});
      }
    }
  };
}
"""


class Host:
    def __init__(self, data_dir: Path) -> None:
        self.session_id = "bench"
        self.settings = {"memory_cap_mb": 0, "watchdog_interval": 5, "opening_timeout": 600}
        self.data_dir = data_dir
        self.events: list[EngineEvent] = []

    async def emit(self, event: EngineEvent) -> None:
        self.events.append(event)


async def measure(engine: WebEngine, label: str) -> None:
    await asyncio.sleep(3)  # let the page settle and GC run
    assert engine.browser_pid is not None and engine.page is not None
    usage = tree_memory(engine.browser_pid)
    heap = await js_heap_bytes(engine._context, engine.page, 30)  # type: ignore[arg-type]
    mb = usage.as_mb()
    print(f"{label:<34} processes {usage.processes}  rss {mb['rss']:7.1f} MB  pss {mb['pss']:7.1f} MB  "
          f"anon {mb['anon']:7.1f} MB  js heap {(heap or 0) / 2**20:6.1f} MB", flush=True)


async def main(args: argparse.Namespace) -> None:
    fake = FakeWhatsAppWeb(paired=True)

    async def hook(context: BrowserContext) -> None:
        await fake.install(context)
        await context.add_init_script(script=HEAVY)

    with tempfile.TemporaryDirectory(prefix="wacc-bench-") as tmp:
        host = Host(Path(tmp))
        engine = WebEngine(host, driver=PlaywrightDriver(), context_hook=hook)
        await engine.start()
        deadline = time.monotonic() + 60
        while not any(isinstance(e, Ready) for e in host.events):
            if time.monotonic() > deadline:
                raise SystemExit(f"not ready: {host.events}")
            await asyncio.sleep(0.1)
        page = engine.page
        assert page is not None
        await measure(engine, "logged in (stand-in, real wa-js)")
        started = time.monotonic()
        await page.evaluate("(a) => window.__benchLoad(...a)",
                            [args.chats, args.messages, args.media, args.rows])
        print(f"load built in {time.monotonic() - started:.1f} s: {args.chats} chats x {args.messages} "
              f"messages, {args.media} images, {args.rows} rows", flush=True)
        await measure(engine, "after the load")
        for _ in range(30):
            await page.evaluate("(n) => window.__benchChurn(n)", 5)
            await asyncio.sleep(1)
        await measure(engine, "after 30 s of churn")
        await engine.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--chats", type=int, default=400)
    parser.add_argument("--messages", type=int, default=250)
    parser.add_argument("--media", type=int, default=150)
    parser.add_argument("--rows", type=int, default=1500)
    asyncio.run(main(parser.parse_args()))
