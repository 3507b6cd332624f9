// Session pages: the new-session form's engine switch, live status (the wizard's step 2,
// /sessions and /sessions/{id}), pairing codes and the status log.
//
// The status panels and the list rows are server-rendered partials; this script only
// tells htmx to re-fetch them ("sessions-changed" on body) when a live session event
// arrives, and after the WebSocket (re)connects, since events are not replayed.
(() => {
  "use strict";

  const changed = () => document.body.dispatchEvent(new CustomEvent("sessions-changed", { bubbles: true }));

  // -- the form: only the chosen engine's fields are shown and sent ---------------------
  function syncEngineFields(form) {
    const chosen = form.querySelector('input[name="engine"]:checked')?.value;
    form.querySelectorAll("[data-engine-fields]").forEach((fieldset) => {
      const on = fieldset.dataset.engineFields === chosen;
      fieldset.hidden = !on;
      // Disabled fields are neither validated by the browser nor sent by app.js.
      fieldset.querySelectorAll("input, select, textarea").forEach((el) => { el.disabled = !on; });
    });
  }

  document.addEventListener("change", (event) => {
    const form = event.target.closest("form.session-form");
    if (form && event.target.name === "engine") syncEngineFields(form);
  });

  // -- live status ---------------------------------------------------------------------
  const WORDS = {
    CONNECTED: "Connected", DISCONNECTED: "Disconnected", QR_READY: "QR code shown",
    LOADING: "Starting", FAILED: "Failed",
  };

  function logEvent(event) {
    const log = document.querySelector(`[data-status-log="${CSS.escape(event.sessionId || "")}"]`);
    if (!log) return;
    log.querySelector("[data-log-empty]")?.remove();
    const item = document.createElement("li");
    const time = document.createElement("time");
    const at = event.at ? new Date(event.at) : new Date();
    time.dateTime = at.toISOString();
    time.textContent = window.wacc.clock(at, { seconds: true });
    item.appendChild(time);
    let text = ` ${WORDS[event.status] || event.status || event.type}`;
    if (event.type === "session:qr" && event.attempt) text += ` (attempt ${event.attempt})`;
    if (event.reason) text += ` — ${event.reason}`;
    if (event.error) text += `: ${event.error}`;
    if (event.retrying) text += " (retrying)";
    item.appendChild(document.createTextNode(text));
    log.prepend(item);
    while (log.children.length > 50) log.lastElementChild.remove();
  }

  ["live:session:status", "live:session:qr"].forEach((type) => {
    document.addEventListener(type, (event) => {
      logEvent(event.detail || {});
      changed();
    });
  });
  // Anything that happened before the socket was up (or while it was down).
  ["live:connected", "live:reconnected"].forEach((type) => document.addEventListener(type, changed));

  // The pairing section only matters until the phone is linked.
  document.addEventListener("htmx:afterSwap", (event) => {
    const live = event.target.closest?.(".connect-live");
    if (!live) return;
    const state = live.querySelector("[data-status]");
    const pairing = document.querySelector(`[data-pairing="${CSS.escape(live.dataset.sessionId)}"]`);
    if (pairing && state) pairing.hidden = state.dataset.status === "CONNECTED";
    // The wizard: once connected, "Done" is the way on, not "I'll do this later".
    const skip = document.querySelector(".wizard-skip");
    if (skip && state) skip.hidden = state.dataset.status === "CONNECTED";
  });

  // -- pairing codes ---------------------------------------------------------------------
  function showPairing(sessionId, code) {
    const out = document.querySelector(`[data-pairing-code="${CSS.escape(sessionId)}"]`);
    if (!out || !code) return;
    out.textContent = `Type this code on the phone: ${code}`;
    out.hidden = false;
  }

  document.body?.addEventListener("pairing-code", (event) => {
    const form = event.target.closest?.("[data-pairing]") || document.querySelector("[data-pairing]");
    if (form) showPairing(form.dataset.pairing, event.detail?.code);
  });
  document.addEventListener("live:session:pairing_code", (event) => {
    showPairing(event.detail.sessionId, event.detail.code);
  });

  // -- copy buttons (the webhook URL) ----------------------------------------------------
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("[data-copy]");
    if (!button) return;
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    try {
      await navigator.clipboard.writeText(field.value);
      window.wacc.toast("Copied");
    } catch (_) {
      field.select();
      window.wacc.toast("Select the text and copy it (Ctrl+C)", "info");
    }
  });

  document.addEventListener("DOMContentLoaded", () => {
    document.querySelectorAll("form.session-form").forEach(syncEngineFields);
  });
})();
