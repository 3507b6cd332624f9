// The page's live connection: one WebSocket per tab to /api/v1/ws (see docs/realtime.md).
//
// The session cookie is HttpOnly, so the script first asks /ui/socket-token for a
// five-minute access token and authenticates with it, then renews it every four
// minutes. Server events are re-dispatched on document as "live:<type>" CustomEvents
// (detail = the event), so each page listens only for what it shows. After a drop it
// reconnects by itself with growing pauses, shows that in the top bar, and fires
// "live:reconnected" so pages can re-fetch what they may have missed.
(() => {
  "use strict";
  if (!document.querySelector('meta[name="csrf-token"]')) return; // signed-out pages

  const status = () => document.getElementById("connection-status");
  let socket = null;
  let attempt = 0;
  let renewTimer = null;
  let everConnected = false;
  let closedByPage = false;
  let retryTimer = null;
  const pending = [];

  function showStatus(text, offline) {
    const el = status();
    if (!el) return;
    el.textContent = text;
    el.classList.toggle("offline", !!offline);
  }

  async function token() {
    const data = await window.wacc.api("POST", "/ui/socket-token", null);
    return data.token;
  }

  async function connect() {
    let credential;
    try {
      credential = await token();
    } catch (error) {
      if (error && error.status === 401) return; // api() already sends to sign-in
      return retry();
    }
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    socket = new WebSocket(`${scheme}://${location.host}/api/v1/ws`);
    socket.addEventListener("open", () => {
      socket.send(JSON.stringify({ type: "authenticate", token: credential }));
    });
    socket.addEventListener("message", (message) => {
      let event;
      try { event = JSON.parse(message.data); } catch (_) { return; }
      if (event.type === "authenticated") {
        const again = everConnected;
        everConnected = true;
        attempt = 0;
        showStatus("", false);
        while (pending.length) socket.send(pending.shift());
        clearInterval(renewTimer);
        renewTimer = setInterval(renew, 4 * 60 * 1000);
        document.dispatchEvent(new CustomEvent(again ? "live:reconnected" : "live:connected", { detail: event }));
        return;
      }
      document.dispatchEvent(new CustomEvent(`live:${event.type}`, { detail: event }));
    });
    socket.addEventListener("close", (event) => {
      clearInterval(renewTimer);
      socket = null;
      if (closedByPage) return;
      if (event.code === 4401) {
        // Signed out elsewhere or the account was removed: the next page load decides.
        showStatus("Signed out", true);
        return;
      }
      retry();
    });
  }

  async function renew() {
    try {
      const fresh = await token();
      send({ type: "authenticate", token: fresh });
    } catch (_) { /* the close handler deals with a dead connection */ }
  }

  function retry() {
    attempt += 1;
    const delay = Math.min(30000, 500 * 2 ** Math.min(attempt, 6)) * (0.75 + Math.random() / 2);
    showStatus(navigator.onLine === false ? "Offline: waiting for the network…" : "Reconnecting…", true);
    clearTimeout(retryTimer);
    retryTimer = setTimeout(connect, delay);
  }

  function send(event) {
    const frame = JSON.stringify(event);
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(frame);
    else pending.push(frame);
  }

  window.addEventListener("online", () => {
    if (!socket) { clearTimeout(retryTimer); attempt = 0; connect(); }
  });
  // A socket can outlive the network silently (no close until TCP times out): drop it
  // at once, so the top bar says so and the reconnect catches up when the network is back.
  window.addEventListener("offline", () => socket?.close());
  window.addEventListener("pagehide", () => { closedByPage = true; socket?.close(); });

  window.wacc = Object.assign(window.wacc || {}, {
    live: { send, connected: () => !!socket && socket.readyState === WebSocket.OPEN },
  });
  document.addEventListener("DOMContentLoaded", connect);
})();
