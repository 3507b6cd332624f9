// The simulator's customer phone: play a customer who writes to the business.
//
// Sending, reading and reacting are customer-phone actions of the simulator engine
// (POST /api/v1/whatsapp/sessions/{id}/simulator). The business's replies are the
// engine's outbox for this customer's number, polled every 1.5 s and at once on live
// message events. The engine does not keep what the customer wrote, so this tab keeps
// it (sessionStorage) to show both sides of the chat.
(() => {
  "use strict";
  const root = document.getElementById("simulator");
  if (!root) return;

  const sessionId = root.dataset.sessionId;
  const canWrite = root.dataset.canWrite === "true";
  const base = `/api/v1/whatsapp/sessions/${encodeURIComponent(sessionId)}/simulator`;
  const $ = (id) => document.getElementById(id);
  const els = {
    identity: $("identity-form"), phone: $("sim-phone"), name: $("sim-name"), recent: $("sim-recent"),
    who: $("sim-who"), messages: $("sim-messages"), status: $("sim-status"), compose: $("sim-compose"),
    text: $("sim-text"), read: $("sim-read"), badge: $("sim-session-badge"), connection: $("sim-connection"),
    file: $("sim-file"),
  };
  const maxBytes = Number(root.dataset.maxBytes) || 700 * 1024;
  const EMOJI = [["👍", "thumbs up"], ["❤️", "heart"], ["😂", "laughing"], ["🙏", "thanks"]];
  const POLL_MS = 1500;

  let me = { phone: "", name: "" };
  let chat = { mine: [], reactions: {} }; // the customer's side, per number
  let outbox = [];
  let failures = 0;
  let timer = null;
  let polling = false;
  let lastDrawn = "";

  // -- storage -----------------------------------------------------------------------------
  const storeKey = (suffix) => `wacc-sim:${sessionId}:${suffix}`;
  function read(storage, key, fallback) {
    try { return JSON.parse(storage.getItem(key)) ?? fallback; } catch (_) { return fallback; }
  }
  function write(storage, key, value) {
    try { storage.setItem(key, JSON.stringify(value)); } catch (_) { /* private mode: memory only */ }
  }
  const saveChat = () => write(sessionStorage, storeKey(`chat:${me.phone}`), chat);

  function normalize(phone) {
    const digits = (phone || "").replace(/[\s().-]/g, "");
    return /^\+?[0-9]{6,15}$/.test(digits) ? `+${digits.replace(/^\+/, "")}` : null;
  }

  // -- identity ----------------------------------------------------------------------------
  function become(phone, name) {
    me = { phone, name };
    els.phone.value = phone;
    els.name.value = name;
    chat = read(sessionStorage, storeKey(`chat:${phone}`), { mine: [], reactions: {} });
    outbox = [];
    lastDrawn = "";
    write(localStorage, storeKey("identity"), me);
    const recent = read(localStorage, storeKey("recent"), []).filter((r) => r.phone !== phone);
    recent.unshift(me);
    write(localStorage, storeKey("recent"), recent.slice(0, 8));
    els.who.textContent = `You are ${name || "a customer"} (${phone}).`;
    drawRecent();
    draw();
    pollNow();
  }

  function drawRecent() {
    const recent = read(localStorage, storeKey("recent"), []);
    els.recent.replaceChildren();
    for (const person of recent) {
      const li = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = `${person.name || "Customer"} · ${person.phone}`;
      if (person.phone === me.phone) button.setAttribute("aria-current", "true");
      button.addEventListener("click", () => become(person.phone, person.name));
      li.appendChild(button);
      els.recent.appendChild(li);
    }
  }

  els.identity.addEventListener("submit", (event) => {
    event.preventDefault();
    window.wacc.clearErrors(els.identity);
    const phone = normalize(els.phone.value);
    if (!phone) {
      window.wacc.showErrors(els.identity, { message: "Check the phone number.", details: [
        { field: "phone", message: "Use digits with the country code, for example +15550001111." }] });
      return;
    }
    become(phone, els.name.value.trim());
  });

  // -- drawing -----------------------------------------------------------------------------
  // Lines of a received message: [icon name or null, text]. The icons are the page's
  // server-rendered SVGs (#sim-icons), not emoji, which need an emoji font.
  function describe(record) {
    if (record.revoked) return [["ban", "This message was deleted"]];
    const lines = [];
    if (record.media) lines.push(["paperclip", record.media.filename || record.media.mimeType || record.type.toLowerCase()]);
    if (record.location) lines.push(["map-pin", `${record.location.latitude}, ${record.location.longitude}`]);
    if (record.poll) lines.push(["vote", `${record.poll.question}: ${record.poll.options.join(" / ")}`]);
    if (record.vcard) lines.push(["contact-round", "Contact card"]);
    if (record.body) lines.push([null, record.body]);
    return lines.length ? lines : [[null, `[${record.type}]`]];
  }

  function writeLines(el, lines) {
    const icons = document.getElementById("sim-icons")?.content;
    lines.forEach(([name, words], i) => {
      if (i) el.appendChild(document.createTextNode("\n"));
      const svg = name && icons?.querySelector(`.icon-${name}`);
      if (svg) el.append(svg.cloneNode(true), " ");
      el.appendChild(document.createTextNode(words));
    });
  }

  const clock = (seconds) => window.wacc.clock(new Date(seconds * 1000));

  function bubble(item) {
    const li = document.createElement("li");
    li.className = `bubble ${item.mine ? "mine" : "theirs"}`;
    const text = document.createElement("p");
    text.className = "bubble-text";
    if (Array.isArray(item.text)) writeLines(text, item.text);
    else text.textContent = item.text;
    li.appendChild(text);
    const meta = document.createElement("span");
    meta.className = "bubble-meta";
    meta.textContent = clock(item.timestamp) + (item.note ? ` · ${item.note}` : "");
    li.appendChild(meta);
    if (item.reaction) {
      const r = document.createElement("span");
      r.className = "bubble-reaction";
      r.textContent = item.reaction;
      li.appendChild(r);
    }
    if (item.reactTo && canWrite) {
      const tools = document.createElement("span");
      tools.className = "react-tools";
      for (const [emoji, words] of EMOJI) {
        const b = document.createElement("button");
        b.type = "button";
        b.textContent = emoji;
        b.setAttribute("aria-label", `React with ${words}`);
        b.addEventListener("click", () => react(item.reactTo, emoji));
        tools.appendChild(b);
      }
      li.appendChild(tools);
    }
    return li;
  }

  function draw() {
    const businessReactions = {};
    const items = [];
    for (const record of outbox) {
      if (record.type === "REACTION") { businessReactions[record.reactionTo] = record.body; continue; }
      items.push({ mine: false, text: describe(record), timestamp: record.timestamp,
                   reactTo: record.revoked ? null : record.id,
                   reaction: chat.reactions[record.id] ? `You: ${chat.reactions[record.id]}` : "" });
    }
    for (const m of chat.mine) {
      const note = { sending: "sending…", failed: `not sent: ${m.error || "error"}` }[m.state] || "";
      items.push({ mine: true, text: m.file ? [["paperclip", m.file], ...(m.body ? [[null, m.body]] : [])] : m.body,
                   timestamp: m.timestamp, note,
                   reaction: businessReactions[m.id] ? `Business: ${businessReactions[m.id]}` : "" });
    }
    items.sort((a, b) => a.timestamp - b.timestamp);
    const signature = JSON.stringify(items);
    if (signature === lastDrawn) return; // keep focus and scroll when nothing changed
    lastDrawn = signature;
    const atBottom = els.messages.scrollHeight - els.messages.scrollTop - els.messages.clientHeight < 40;
    els.messages.replaceChildren(...items.map(bubble));
    if (!items.length) {
      const li = document.createElement("li");
      li.className = "phone-empty";
      li.textContent = "No messages yet. Write to the business below.";
      els.messages.appendChild(li);
    }
    if (atBottom || items.length <= 1) els.messages.scrollTop = els.messages.scrollHeight;
  }

  function say(message) {
    els.status.textContent = message || "";
    els.status.hidden = !message;
  }

  // -- the business's side: the outbox -----------------------------------------------------
  async function poll() {
    if (polling || !me.phone) return;
    polling = true;
    try {
      outbox = await window.wacc.api("GET", `${base}/outbox?to=${encodeURIComponent(me.phone)}`);
      failures = 0;
      say("");
      draw();
    } catch (error) {
      failures += 1;
      say(`Cannot see the business's replies right now: ${error.message}`);
    } finally {
      polling = false;
      schedule();
    }
  }

  function schedule() {
    clearTimeout(timer);
    const wait = failures ? Math.min(30000, POLL_MS * 2 ** failures) : (document.hidden ? 5000 : POLL_MS);
    timer = setTimeout(poll, wait);
  }

  function pollNow() { clearTimeout(timer); poll(); }

  ["live:message:new", "live:message:ack", "live:message:edited", "live:message:deleted",
   "live:message:reaction", "live:reconnected"].forEach((type) => document.addEventListener(type, pollNow));
  document.addEventListener("visibilitychange", () => { if (!document.hidden) pollNow(); });

  document.addEventListener("live:session:status", (event) => {
    if (event.detail.sessionId !== sessionId) return;
    const connected = event.detail.status === "CONNECTED";
    els.connection.hidden = connected;
    els.badge.textContent = connected ? "Connected" : "Not connected";
    els.badge.className = `badge status-${connected ? "ok" : "bad"}`;
    if (connected) { failures = 0; pollNow(); }
  });

  // -- the customer's actions ----------------------------------------------------------------
  async function simulate(action, payload) {
    return window.wacc.api("POST", base, { action, payload });
  }

  // A message from the customer: shown at once as sending, then sent or failed.
  async function sendAsCustomer(entry, payload) {
    chat.mine.push(entry);
    els.text.value = "";
    draw();
    try {
      if (me.name) payload.name = me.name;
      entry.id = (await simulate("message", payload)).id;
      entry.state = "sent";
    } catch (error) {
      entry.state = "failed";
      entry.error = error.message;
      window.wacc.toast(error.message, "error");
    }
    saveChat();
    draw();
  }

  els.compose.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = els.text.value.trim();
    if (!body || !canWrite) return;
    await sendAsCustomer({ id: null, body, timestamp: Date.now() / 1000, state: "sending" },
                { phone: me.phone, type: "TEXT", body });
    els.text.focus();
  });

  // A photo or document from the customer: the engine delivers it as an inbound media
  // message (the file travels base64 in the request, so it must stay small). The text
  // box's words, if any, go with it as the caption.
  const KINDS = [["image/", "IMAGE"], ["video/", "VIDEO"], ["audio/", "AUDIO"]];
  const kindOf = (mime) => (KINDS.find(([prefix]) => mime.startsWith(prefix)) || [null, "DOCUMENT"])[1];

  function base64Of(file) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(String(reader.result).split(",", 2)[1] || "");
      reader.onerror = () => reject(new Error("The file could not be read."));
      reader.readAsDataURL(file);
    });
  }

  els.file?.addEventListener("change", async () => {
    const file = els.file.files[0];
    els.file.value = "";
    if (!file || !canWrite) return;
    if (file.size > maxBytes) {
      window.wacc.toast(`“${file.name}” is larger than the customer phone takes (${Math.floor(maxBytes / 1024)} KB).`, "error");
      return;
    }
    const caption = els.text.value.trim();
    const mimeType = file.type || "application/octet-stream";
    let data;
    try {
      data = await base64Of(file);
    } catch (error) {
      window.wacc.toast(error.message, "error");
      return;
    }
    const payload = { phone: me.phone, type: kindOf(mimeType),
                      media: { mimeType, filename: file.name, data } };
    if (caption) payload.body = caption;
    await sendAsCustomer({ id: null, body: caption, file: file.name, timestamp: Date.now() / 1000,
                  state: "sending" }, payload);
  });

  els.read.addEventListener("click", async () => {
    try {
      const result = await simulate("read", { phone: me.phone });
      const count = (result.read || []).length;
      window.wacc.toast(count ? `Read ${count} repl${count === 1 ? "y" : "ies"}: the agent sees blue ticks.` : "Nothing new to read.");
      pollNow();
    } catch (error) {
      window.wacc.toast(error.message, "error");
    }
  });

  async function react(messageId, emoji) {
    try {
      await simulate("react", { phone: me.phone, message_id: messageId, emoji });
      chat.reactions[messageId] = emoji;
      saveChat();
      draw();
    } catch (error) {
      window.wacc.toast(error.message, "error");
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    const saved = read(localStorage, storeKey("identity"), null);
    const phone = normalize(saved?.phone) || normalize(els.phone.value) || "+15550001111";
    become(phone, saved ? saved.name || "" : els.name.value.trim());
  });
})();
