// The inbox's composer: Enter to send (Shift+Enter for a new line), canned responses on
// "/", a small emoji list, attachments checked against the upload limit before sending,
// reply-to, the "Note" switch for internal notes, and the typing indicator it sends.
// It uses the thread helpers that static/js/inbox.js puts on window.wacc.inbox.
(() => {
  "use strict";

  const EMOJI = ["😀", "😂", "😊", "🙂", "😉", "😍", "🥰", "😅", "🤔", "😮", "😢", "😡",
    "👍", "👎", "👏", "🙌", "🙏", "🤝", "👋", "💪", "❤️", "🔥", "🎉", "✨", "💯", "✅",
    "❌", "⚠️", "⏰", "📦", "🚚", "💬", "📞", "📎", "🛒", "💳"];
  const TYPING_IDLE_MS = 3000;

  let replyTo = null;
  let sending = false;
  let sendKey = null;
  let typingOn = false;
  let typingIdle = null;
  let typingRefresh = 0;

  const thread = () => window.wacc.inbox;
  const openId = () => thread().openId();
  const composer = () => document.getElementById("composer");
  const textarea = () => document.getElementById("composer-text");
  const api = (method, url, body) => window.wacc.api(method, url, body);
  const conv = (id, tail = "") => `/api/v1/conversations/${encodeURIComponent(id)}${tail}`;

  // -- typing -------------------------------------------------------------------------
  function typing(on) {
    const id = openId();
    if (!id || !window.wacc.live) return;
    const now = Date.now();
    if (on && (!typingOn || now - typingRefresh > 8000)) {
      window.wacc.live.send({ type: "typing:start", conversationId: id });
      typingOn = true;
      typingRefresh = now;
    } else if (!on && typingOn) {
      window.wacc.live.send({ type: "typing:stop", conversationId: id });
      typingOn = false;
    }
    clearTimeout(typingIdle);
    if (on) typingIdle = setTimeout(() => typing(false), TYPING_IDLE_MS);
  }

  // -- the composer -------------------------------------------------------------------
  const noteMode = () => !!document.getElementById("note-mode")?.checked;
  const megabytes = (n) => `${Math.round((n / 1048576) * 10) / 10} MB`;

  function composerError(message) {
    const box = composer()?.querySelector(".form-error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function setNoteMode(on) {
    const form = composer();
    const switcher = document.getElementById("note-mode");
    if (!form) return;
    if (switcher) switcher.checked = on;
    const note = noteMode();
    form.classList.toggle("note-mode", note);
    textarea().placeholder = note ? "Write an internal note — only your team sees it" : "Type a reply…";
    document.getElementById("send-button").textContent = note ? "Add note" : "Send";
    document.getElementById("attach-label")?.classList.toggle("disabled", note);
    document.getElementById("composer-file").disabled = note;
  }

  function clearFile() {
    const input = document.getElementById("composer-file");
    if (input) input.value = "";
    const preview = document.getElementById("attachment-preview");
    if (preview) preview.hidden = true;
  }

  function setReply(messageId) {
    replyTo = messageId;
    const preview = document.getElementById("reply-preview");
    if (!preview) return;
    preview.hidden = !messageId;
    if (messageId) {
      const bubble = document.querySelector(`[data-message-id="${CSS.escape(messageId)}"]`);
      const text = bubble?.querySelector(".body, .document, .location, .poll, .contact-card")?.textContent ||
        "A message";
      document.getElementById("reply-text").textContent = text.trim().slice(0, 160);
      textarea()?.focus();
    }
  }

  async function send(form) {
    if (sending) return;
    const id = form.dataset.conversationId;
    const area = textarea();
    const text = area.value;
    const file = document.getElementById("composer-file")?.files[0];
    const note = noteMode();
    composerError("");
    if (!text.trim() && (!file || note)) {
      composerError(note ? "Write the note first." : "Write a message or attach a file first.");
      area.focus();
      return;
    }
    sending = true;
    form.setAttribute("aria-busy", "true");
    document.getElementById("send-button").disabled = true;
    // The same key until it succeeds, so a retry after a network error never sends twice.
    sendKey = sendKey || `ui-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;
    try {
      let message = null;
      if (note) {
        await api("POST", conv(id, "/notes"), { content: text });
      } else if (file) {
        const max = Number(form.dataset.maxBytes || 0);
        if (max && file.size > max) {
          throw { message: `“${file.name}” is ${megabytes(file.size)}, larger than the ${megabytes(max)} limit. Choose a smaller file.` };
        }
        const body = new FormData();
        body.append("file", file);
        if (text.trim()) body.append("caption", text);
        if (replyTo) body.append("replyTo", replyTo);
        body.append("idempotencyKey", sendKey);
        message = await api("POST", conv(id, "/messages/media"), body);
      } else {
        message = await api("POST", conv(id, "/messages"),
          { body: text, replyTo: replyTo || undefined, idempotencyKey: sendKey });
      }
      sendKey = null;
      area.value = "";
      clearFile();
      setReply(null);
      typing(false);
      if (message && message.id) await thread().refreshMessage(message.id, { follow: true });
      else await thread().refreshTail();
      thread().scrollToEnd();
      thread().refreshList();
    } catch (error) {
      composerError(error.message || "The message could not be sent.");
    } finally {
      sending = false;
      form.removeAttribute("aria-busy");
      document.getElementById("send-button").disabled = false;
      area.focus();
    }
  }

  // -- the Cloud API's 24-hour reply window ---------------------------------------------
  // The server renders the window's state; this keeps the countdown current and, when it
  // runs out, says so and offers the template form (WhatsApp takes nothing else then).
  function tickWindow() {
    const note = document.getElementById("reply-window");
    if (!note || note.dataset.state !== "open") return;
    const left = Math.max(0, Date.parse(note.dataset.closesAt) - Date.now());
    if (left > 0) {
      const minutes = Math.ceil(left / 60000);
      const label = minutes >= 60 ? `${Math.floor(minutes / 60)} h ${String(minutes % 60).padStart(2, "0")} min` : `${minutes} min`;
      const strong = document.getElementById("reply-window-left");
      if (strong) strong.textContent = label;
      return;
    }
    note.dataset.state = "closed";
    note.classList.add("closed");
    note.textContent = "The 24-hour reply window is closed: WhatsApp only delivers an approved template until the customer writes again.";
    const form = document.getElementById("template-send");
    if (form) form.hidden = false;
  }

  async function sendTemplate() {
    const form = composer();
    const name = document.getElementById("template-name")?.value.trim();
    const language = document.getElementById("template-language")?.value.trim();
    const params = (document.getElementById("template-params")?.value || "")
      .split("\n").map((line) => line.trim()).filter(Boolean);
    composerError("");
    if (!form || !name || !language) {
      composerError("Give the template's name and language, as approved in WhatsApp Manager.");
      return;
    }
    const template = { name, language: { code: language } };
    if (params.length) {
      template.components = [{ type: "body", parameters: params.map((text) => ({ type: "text", text })) }];
    }
    try {
      const message = await api("POST", conv(form.dataset.conversationId, "/messages"), {
        body: `Template ${name} (${language})${params.length ? ": " + params.join(", ") : ""}`,
        template,
        idempotencyKey: `ui-tpl-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`,
      });
      if (message && message.id) await thread().refreshMessage(message.id, { follow: true });
      thread().scrollToEnd();
    } catch (error) {
      composerError(error.message || "The template could not be sent.");
    }
  }
  setInterval(tickWindow, 30000);

  // Canned responses: "/word" before the caret opens a filtered list of the org's replies.
  function cannedToken() {
    const area = textarea();
    if (!area) return null;
    const before = area.value.slice(0, area.selectionStart);
    const match = /(^|\s)\/([\w-]*)$/.exec(before);
    return match ? { query: match[2].toLowerCase(), start: before.length - match[2].length - 1 } : null;
  }

  function cannedItems() {
    try { return JSON.parse(composer()?.dataset.canned || "[]"); } catch (_) { return []; }
  }

  function showCanned() {
    const list = document.getElementById("canned-list");
    if (!list) return;
    const token = cannedToken();
    const found = token ? cannedItems().filter((c) => c.shortcut.includes(token.query) ||
      c.content.toLowerCase().includes(token.query)).slice(0, 8) : [];
    list.replaceChildren();
    if (token && !found.length) {
      const li = document.createElement("li");
      li.className = "muted";
      li.textContent = cannedItems().length ? "No canned response matches." : "No canned responses yet (add them in Settings).";
      list.appendChild(li);
    }
    found.forEach((c, i) => {
      const li = document.createElement("li");
      li.setAttribute("role", "option");
      li.id = `canned-${i}`;
      li.dataset.content = c.content;
      li.setAttribute("aria-selected", i === 0 ? "true" : "false");
      const key = document.createElement("strong");
      key.textContent = `/${c.shortcut}`;
      const text = document.createElement("span");
      text.textContent = ` ${c.content.slice(0, 80)}`;
      li.append(key, text);
      list.appendChild(li);
    });
    list.hidden = !token;
    textarea().setAttribute("aria-expanded", token ? "true" : "false");
  }

  function pickCanned(option) {
    const token = cannedToken();
    const area = textarea();
    if (!token || !option?.dataset.content) return;
    const after = area.value.slice(area.selectionStart);
    area.value = area.value.slice(0, token.start) + option.dataset.content + after;
    const caret = token.start + option.dataset.content.length;
    area.setSelectionRange(caret, caret);
    document.getElementById("canned-list").hidden = true;
    area.focus();
  }

  function cannedKey(event) {
    const list = document.getElementById("canned-list");
    if (!list || list.hidden) return false;
    const options = [...list.querySelectorAll("[role=option]")];
    const at = options.findIndex((o) => o.getAttribute("aria-selected") === "true");
    if (event.key === "Escape") { list.hidden = true; return true; }
    if (!options.length) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const next = (at + (event.key === "ArrowDown" ? 1 : -1) + options.length) % options.length;
      options.forEach((o, i) => o.setAttribute("aria-selected", i === next ? "true" : "false"));
      textarea().setAttribute("aria-activedescendant", options[next].id);
      return true;
    }
    if (event.key === "Enter" || event.key === "Tab") { pickCanned(options[Math.max(0, at)]); return true; }
    return false;
  }

  function insertText(text) {
    const area = textarea();
    if (!area) return;
    const start = area.selectionStart ?? area.value.length;
    area.setRangeText(text, start, area.selectionEnd ?? start, "end");
    area.focus();
  }

  function toggleEmoji() {
    const panel = document.getElementById("emoji-panel");
    const button = document.getElementById("emoji-button");
    if (!panel) return;
    if (!panel.childElementCount) {
      EMOJI.forEach((emoji) => {
        const b = document.createElement("button");
        b.type = "button";
        b.className = "emoji";
        b.dataset.emoji = emoji;
        b.textContent = emoji;
        b.setAttribute("aria-label", `Insert ${emoji}`);
        panel.appendChild(b);
      });
    }
    panel.hidden = !panel.hidden;
    button.setAttribute("aria-expanded", String(!panel.hidden));
    if (!panel.hidden) panel.querySelector("button")?.focus();
  }

  function onChange(event) {
    const el = event.target;
    if (el.id === "note-mode") { setNoteMode(el.checked); textarea()?.focus(); }
    if (el.id !== "composer-file") return;
    const file = el.files[0];
    const max = Number(composer()?.dataset.maxBytes || 0);
    composerError("");
    if (file && max && file.size > max) {
      composerError(`“${file.name}” is ${megabytes(file.size)}, larger than the ${megabytes(max)} limit. Choose a smaller file.`);
      clearFile();
      return;
    }
    document.getElementById("attachment-name").textContent = file ? `${file.name} (${megabytes(file.size)})` : "";
    document.getElementById("attachment-preview").hidden = !file;
  }

  function closeEmoji() {
    const panel = document.getElementById("emoji-panel");
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    document.getElementById("emoji-button")?.setAttribute("aria-expanded", "false");
  }

  function onClick(event) {
    const el = event.target.closest("[data-action], [data-emoji], #emoji-button, #canned-list [role=option]");
    if (!event.target.closest("#emoji-panel, #emoji-button")) closeEmoji();
    if (!el) return;
    if (el.matches("#canned-list [role=option]")) pickCanned(el);
    else if (el.id === "emoji-button") toggleEmoji();
    else if (el.dataset.emoji) { insertText(el.dataset.emoji); closeEmoji(); }
    else if (el.dataset.action === "reply") setReply(el.dataset.messageId);
    else if (el.dataset.action === "cancel-reply") { setReply(null); textarea()?.focus(); }
    else if (el.dataset.action === "clear-file") clearFile();
    else if (el.dataset.action === "send-template") sendTemplate();
  }

  function onKey(event) {
    if (event.key === "Escape" && event.target.closest?.("#emoji-panel")) {
      closeEmoji();
      document.getElementById("emoji-button")?.focus();
      return;
    }
    if (event.target.id !== "composer-text") return;
    if (cannedKey(event)) { event.preventDefault(); return; }
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      composer()?.requestSubmit();
    }
  }

  // For the "r" and "n" shortcuts.
  function focusComposer(note) {
    if (!textarea()) return;
    setNoteMode(note && !!document.getElementById("note-mode"));
    textarea().focus();
  }

  document.addEventListener("inbox:opened", () => {
    tickWindow();
    replyTo = null;
    sendKey = null;
    typingOn = false;
    syncNoteMode();
  });
  // A browser may restore the switch's state on Back; the labels must follow the switch,
  // which is what decides between a note and a message.
  function syncNoteMode() {
    const switcher = document.getElementById("note-mode");
    if (switcher) setNoteMode(switcher.checked);
  }
  window.addEventListener("pageshow", syncNoteMode);
  document.addEventListener("DOMContentLoaded", syncNoteMode);
  document.addEventListener("change", onChange);
  document.addEventListener("click", onClick);
  document.addEventListener("submit", (event) => {
    if (event.target.id === "composer") { event.preventDefault(); send(event.target); }
  });
  document.addEventListener("keydown", onKey);
  document.addEventListener("input", (event) => {
    if (event.target.id !== "composer-text") return;
    showCanned();
    if (!noteMode() && event.target.value) typing(true);
  });
  window.wacc = Object.assign(window.wacc || {}, { composer: { focus: focusComposer } });
})();
