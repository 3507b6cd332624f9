// The inbox page: the list, the thread, the header's actions, keyboard shortcuts, and
// the live updates that keep them current without a reload (the composer is in
// static/js/inbox-composer.js).
//
// Every change goes to the JSON API with wacc.api() (cookie + CSRF header); the server
// renders every piece of HTML (escaped) and this script only fetches and places those
// fragments, so no user content is ever turned into markup here.
(() => {
  "use strict";

  const TYPING_SHOW_MS = 10000;

  let joined = null;
  const typists = new Map();
  const timers = {};

  const inbox = () => document.getElementById("inbox");
  const openId = () => document.getElementById("conversation")?.dataset.conversationId || null;
  const names = () => {
    try { return JSON.parse(inbox()?.dataset.names || "{}"); } catch (_) { return {}; }
  };
  const api = (method, url, body) => window.wacc.api(method, url, body);
  const conv = (id, tail = "") => `/api/v1/conversations/${encodeURIComponent(id)}${tail}`;

  // Run *fn* once after *ms* of quiet: a burst of live events costs one request.
  function debounce(name, ms, fn) {
    clearTimeout(timers[name]);
    timers[name] = setTimeout(fn, ms);
  }

  async function fragment(url) {
    const response = await fetch(url, {
      credentials: "same-origin", headers: { "Accept": "text/html", "HX-Request": "true" },
    });
    if (!response.ok) throw { status: response.status, message: "Could not load the latest changes." };
    return response.text();
  }

  function elements(html) {
    const holder = document.createElement("template");
    holder.innerHTML = html.trim();
    return [...holder.content.children];
  }

  function place(old, fresh) {
    if (!old || !fresh) return;
    const focused = document.activeElement?.id;
    old.replaceWith(fresh);
    window.htmx?.process(fresh);
    if (focused && fresh.querySelector(`#${CSS.escape(focused)}`)) document.getElementById(focused).focus();
  }

  // -- the list -----------------------------------------------------------------------
  function markSelected(id) {
    document.querySelectorAll("#conversation-list .conversation-row > a").forEach((a) => {
      const row = a.parentElement;
      if (row.dataset.conversationId === id) a.setAttribute("aria-current", "true");
      else a.removeAttribute("aria-current");
    });
  }

  // At most one list request per 300 ms however busy the inbox is (a debounce would
  // never fire while messages keep arriving).
  function refreshList() {
    if (timers.list) return;
    timers.list = setTimeout(() => {
      timers.list = null;
      const form = document.getElementById("inbox-filters");
      if (form && window.htmx) window.htmx.trigger(form, "refresh");
    }, 300);
  }

  function move(step) {
    const links = [...document.querySelectorAll("#conversation-list .conversation-row > a")];
    if (!links.length) return;
    const at = links.findIndex((a) => a.getAttribute("aria-current") === "true");
    const next = links[at === -1 ? 0 : Math.min(links.length - 1, Math.max(0, at + step))];
    if (next && next.getAttribute("aria-current") !== "true") { next.click(); next.focus(); }
  }

  // -- the thread ---------------------------------------------------------------------
  // Whether the thread is held at its newest message. An image that loads after the
  // thread was scrolled to its end makes the list taller without a scroll event, which
  // hid the newest message under it; while pinned, each load scrolls to the end again.
  let pinned = false;
  // The list box shrinks, without a scroll event, when what is around it grows (the
  // composer's tools drawn by its script, a reply preview): held at the end, it stays.
  let watched = null;
  const resized = "ResizeObserver" in window ? new ResizeObserver(() => { if (pinned) scrollToEnd(); }) : null;
  function watchSize() {
    const box = document.getElementById("messages");
    if (!resized || box === watched) return;
    if (watched) resized.unobserve(watched);
    if (box) resized.observe(box);
    watched = box;
  }

  // Where scrollToEnd left the list. The scroll event our own scroll causes arrives
  // later, when an image may already have made the list taller: that one is not the
  // person scrolling up, and must not unpin the thread.
  let endTop = 0;
  function scrollToEnd() {
    const box = document.getElementById("messages");
    if (!box) return;
    box.scrollTop = box.scrollHeight;
    endTop = box.scrollTop;
    pinned = true;
  }

  function upsert(el, { follow = false } = {}) {
    const box = document.getElementById("messages");
    const id = el?.dataset?.itemId;
    if (!box || !id) return;
    const existing = box.querySelector(`[data-item-id="${CSS.escape(id)}"]`);
    if (existing) { existing.replaceWith(el); return; }
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 150;
    box.querySelector(":scope > .empty")?.remove();
    box.appendChild(el);
    if (atEnd || follow) scrollToEnd();
  }

  async function refreshMessage(messageId, options) {
    const html = await fragment(`/ui/inbox/messages/${encodeURIComponent(messageId)}`);
    const [el] = elements(html);
    if (el) upsert(el, options);
  }

  async function refreshTail() {
    const id = openId();
    if (!id) return;
    const html = await fragment(`/ui/inbox/conversation/${encodeURIComponent(id)}/messages`);
    if (id !== openId()) return;
    elements(html).forEach((el) => upsert(el));
  }

  async function refreshHeader() {
    const id = openId();
    if (!id) return;
    const html = await fragment(`/ui/inbox/conversation/${encodeURIComponent(id)}/header`);
    if (id === openId()) place(document.getElementById("thread-header"), elements(html)[0]);
  }

  async function refreshContact() {
    const id = openId();
    if (!id) return;
    const html = await fragment(`/ui/inbox/conversation/${encodeURIComponent(id)}/contact`);
    if (id === openId()) place(document.getElementById("contact-details"), elements(html)[0]);
  }

  function markRead() {
    const id = openId();
    if (!id || document.visibilityState === "hidden") return;
    debounce("read", 400, async () => {
      try {
        await api("POST", conv(id, "/read"));
        const row = document.querySelector(`.conversation-row[data-conversation-id="${CSS.escape(id)}"]`);
        row?.classList.remove("unread");
        row?.querySelector(".unread-badge")?.remove();
      } catch (_) { /* a read mark is not worth an error message */ }
    });
  }

  // A thread was put on the page (first load, a picked row, or back/forward).
  function opened() {
    const id = openId();
    inbox()?.classList.toggle("has-thread", !!id);
    markSelected(id);
    typists.clear();
    showTyping();
    document.dispatchEvent(new CustomEvent("inbox:opened", { detail: { id } }));
    if (joined && joined !== id) window.wacc.live?.send({ type: "leave:conversation", conversationId: joined });
    joined = id;
    if (!id) return;
    window.wacc.live?.send({ type: "join:conversation", conversationId: id });
    watchSize();
    scrollToEnd();
    markRead();
  }

  // -- typing -------------------------------------------------------------------------
  function showTyping() {
    const el = document.getElementById("typing");
    if (!el) return;
    const who = [...typists.keys()].map((u) => names()[u] || "A teammate");
    el.textContent = who.length ? `${who.join(", ")} ${who.length > 1 ? "are" : "is"} typing…` : "";
  }


  // -- header and contact actions -----------------------------------------------------
  async function change(work, after = refreshHeader) {
    try {
      await work();
    } catch (error) {
      if (error.status === 409) window.wacc.toast("Someone else just changed this conversation; it was reloaded.", "error");
      else window.wacc.toast(error.message || "That did not work.", "error");
    }
    await after().catch(() => {});
    refreshList();
  }

  const header = () => document.getElementById("thread-header");
  const version = () => Number(header()?.dataset.version || 0);
  const assignees = () => { try { return JSON.parse(header()?.dataset.assignees || "[]"); } catch (_) { return []; } };

  function patch(fields) {
    const id = openId();
    return change(() => api("PATCH", conv(id), { version: version(), ...fields }));
  }

  function assign(userId) {
    const id = openId();
    if (!id) return;
    if (!userId) {
      const current = assignees();
      if (current.length) change(() => api("POST", conv(id, "/unassign"), { userIds: current }));
      return;
    }
    change(() => api("POST", conv(id, "/assign"), { userIds: [userId], mode: "replace" }));
  }

  function resolve() {
    if (header()?.dataset.status !== "RESOLVED" && document.getElementById("status-select")) patch({ status: "RESOLVED" });
  }

  function onChange(event) {
    const el = event.target;
    const id = openId();
    switch (el.dataset.action) {
      case "assign": assign(el.value); break;
      case "status": patch({ status: el.value }); break;
      case "priority": patch({ priority: el.value }); break;
      case "tag":
        if (el.value) change(() => api("POST", conv(id, "/tags"), { tagId: el.value }));
        break;
      case "contact-tag": {
        const contact = document.getElementById("contact-details")?.dataset.contactId;
        if (el.value && contact) {
          change(() => api("POST", `/api/v1/contacts/${encodeURIComponent(contact)}/tags`, { tagId: el.value }), refreshContact);
        }
        break;
      }
      default: break;
    }
  }

  function onClick(event) {
    const el = event.target.closest("[data-action]");
    if (!el) return;
    const id = openId();
    switch (el.dataset.action) {
      case "toggle-contact": document.getElementById("conversation")?.classList.toggle("show-contact"); break;
      case "assign-me": assign(inbox()?.dataset.me); break;
      case "resolve": resolve(); break;
      case "untag":
        change(() => api("DELETE", conv(id, `/tags/${encodeURIComponent(el.dataset.tagId)}`)));
        break;
      case "contact-untag": {
        const contact = document.getElementById("contact-details")?.dataset.contactId;
        change(() => api("DELETE", `/api/v1/contacts/${encodeURIComponent(contact)}/tags/${encodeURIComponent(el.dataset.tagId)}`), refreshContact);
        break;
      }
      default: break;
    }
  }

  function onSubmit(event) {
    const form = event.target;
    if (form.dataset.action === "snooze") {
      event.preventDefault();
      const value = form.elements.until.value;
      const until = value ? new Date(value) : null;
      if (!until || Number.isNaN(until.getTime())) { window.wacc.toast("Pick a date and time to snooze until.", "error"); return; }
      change(() => api("POST", conv(openId(), "/snooze"), { until: until.toISOString() }));
    }
  }

  // -- keyboard shortcuts -------------------------------------------------------------
  function typingInField(target) {
    return target.isContentEditable || !!target.closest?.("input, textarea, select");
  }

  function onShortcut(event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    if (typingInField(event.target) || document.querySelector("dialog[open]")) return;
    const focusComposer = (note) => window.wacc.composer?.focus(note);
    const actions = {
      j: () => move(1), k: () => move(-1), r: () => focusComposer(false), n: () => focusComposer(true),
      e: resolve, a: () => { if (document.querySelector("[data-action=assign-me]")) assign(inbox()?.dataset.me); },
      "/": () => document.getElementById("inbox-search")?.focus(),
      "?": () => document.getElementById("shortcuts-dialog")?.showModal(),
    };
    const action = actions[event.key];
    if (action) { event.preventDefault(); action(); }
  }

  // -- live events --------------------------------------------------------------------
  function live(type, handler) {
    document.addEventListener(`live:${type}`, (event) => {
      if (!inbox()) return;
      Promise.resolve(handler(event.detail || {})).catch(() => {});
    });
  }

  live("message:new", (d) => {
    refreshList();
    if (d.conversationId !== openId()) return null;
    if (d.direction === "INBOUND") markRead();
    return refreshMessage(d.messageId);
  });
  for (const type of ["message:ack", "message:edited", "message:deleted", "message:reaction"]) {
    live(type, (d) => (d.conversationId === openId() ? refreshMessage(d.messageId) : null));
  }
  // A teammate's internal note: notes are part of the thread's fragment.
  live("note:new", (d) => (d.conversationId === openId() ? refreshTail() : null));
  for (const type of ["conversation:updated", "conversation:assigned"]) {
    live(type, (d) => {
      refreshList();
      if (d.conversationId === openId()) debounce("header", 150, () => refreshHeader().catch(() => {}));
    });
  }
  // Marks the thread as followed live (typing events need the join); tests wait for it.
  live("joined", (d) => {
    if (d.conversationId === openId()) document.getElementById("conversation")?.setAttribute("data-live", "joined");
  });
  live("typing:start", (d) => {
    if (d.conversationId !== openId() || !d.userId) return;
    clearTimeout(typists.get(d.userId));
    typists.set(d.userId, setTimeout(() => { typists.delete(d.userId); showTyping(); }, TYPING_SHOW_MS));
    showTyping();
  });
  live("typing:stop", (d) => {
    clearTimeout(typists.get(d.userId));
    typists.delete(d.userId);
    showTyping();
  });
  // Events are not replayed: fetch what may have changed while the socket was down
  // (also when the first connect only succeeded after the network came back).
  let missed = false;
  window.addEventListener("offline", () => { missed = true; });
  const catchUp = async () => {
    missed = false;
    refreshList();
    const id = openId();
    if (!id) return;
    window.wacc.live.send({ type: "join:conversation", conversationId: id });
    await refreshTail();
    await refreshHeader();
  };
  live("reconnected", catchUp);
  live("connected", () => (missed ? catchUp() : null));

  // -- wiring -------------------------------------------------------------------------
  let earlierGap = null;
  document.addEventListener("htmx:beforeSwap", (event) => {
    if (event.detail.requestConfig?.elt?.id === "load-earlier") {
      const box = document.getElementById("messages");
      earlierGap = box ? box.scrollHeight - box.scrollTop : null;
    }
  });
  document.addEventListener("htmx:afterSwap", (event) => {
    const target = event.detail.target;
    if (target?.id === "thread-pane") opened();
    if (target?.id === "conversation-list") markSelected(openId());
    if (earlierGap !== null && event.detail.requestConfig?.elt?.id === "load-earlier") {
      const box = document.getElementById("messages");
      if (box) box.scrollTop = box.scrollHeight - earlierGap;
      earlierGap = null;
    }
  });
  document.addEventListener("htmx:historyRestore", opened);
  document.addEventListener("change", onChange);
  document.addEventListener("click", onClick);
  document.addEventListener("submit", onSubmit);
  document.addEventListener("keydown", onShortcut);
  document.addEventListener("load", (event) => {
    const media = event.target;
    if (pinned && media instanceof HTMLElement && media.closest?.("#messages")) scrollToEnd();
  }, true);  // load does not bubble: caught on its way down
  document.addEventListener("scroll", (event) => {
    const box = event.target;
    if (box.id !== "messages") return;
    const atEnd = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
    pinned = atEnd || (pinned && box.scrollTop >= endTop - 2);
    if (box.scrollTop > 80) return;
    const more = document.getElementById("load-earlier");
    if (more && !more.classList.contains("htmx-request")) more.click();
  }, true);
  document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") markRead(); });
  document.addEventListener("DOMContentLoaded", opened);
  window.wacc = Object.assign(window.wacc || {}, {
    inbox: { openId, refreshMessage, refreshTail, refreshList, scrollToEnd },
  });
})();
