// Agent assist in the inbox's composer (templates/inbox/_assist.html): a suggested reply,
// a summary of the conversation, and a rewrite of the draft in a chosen tone, each one
// call to /api/v1/conversations/{id}/ai/…. Nothing is ever sent from here: a draft goes
// into the message box for the agent to read, edit and send, and "Undo" puts back the
// text it replaced. Errors are shown in words in the composer's error area.
(() => {
  "use strict";

  const MAX_TEXT = 4096; // the API's limit for a draft to rewrite (RewriteIn.text)
  const DOING = {
    suggest: "Writing a suggested reply…",
    summarize: "Summarising the conversation…",
    rewrite: "Rewriting your draft…",
  };
  const FAILED = {
    suggest: "Could not suggest a reply",
    summarize: "Could not summarise the conversation",
    rewrite: "Could not rewrite the draft",
  };

  let undoText = null; // the message box's text before the AI replaced it
  let busy = false;

  const byId = (id) => document.getElementById(id);
  const textarea = () => byId("composer-text");
  const openId = () => byId("composer")?.dataset.conversationId || null;
  const url = (id, action) => `/api/v1/conversations/${encodeURIComponent(id)}/ai/${action}`;

  function composerError(message) {
    const box = byId("composer")?.querySelector(".form-error");
    if (!box) return;
    box.textContent = message || "";
    box.hidden = !message;
  }

  function status(message) {
    const el = byId("assist-status");
    if (el) el.textContent = message || "";
  }

  // The API's message is already in words; a few statuses get advice on what to do.
  function describe(action, error) {
    const code = error && error.status;
    let reason = (error && error.message) || "the AI did not answer.";
    if (code === 409) reason = "No AI provider is set up for this organization. An admin can add one in Settings → AI.";
    else if (code === 403) reason = "Your role cannot use the AI assistant.";
    else if (code === 404) reason = "This conversation is no longer available to you.";
    else if (code === 400 && error.details && error.details.length) {
      const names = { text: "The draft", tone: "The tone", hint: "The hint" };
      reason = error.details.map((d) => `${names[d.field] || d.field || "The request"} ${d.message}`).join("; ");
    }
    reason = reason.charAt(0).toUpperCase() + reason.slice(1);
    return `${FAILED[action]}. ${reason.replace(/[.]?\s*$/, ".")}`;
  }

  function setBusy(action, on) {
    busy = on;
    const group = byId("assist");
    if (!group) return;
    group.setAttribute("aria-busy", on ? "true" : "false");
    group.querySelectorAll("button, select").forEach((el) => { el.disabled = on; });
    group.querySelector(`[data-assist="${action}"]`)?.classList.toggle("loading", on);
    // The draft must not change under the request that rewrites or replaces it.
    if (action !== "summarize" && textarea()) textarea().readOnly = on;
    status(on ? DOING[action] : "");
  }

  function setUndo(text) {
    undoText = text;
    const button = byId("assist-undo");
    if (button) button.hidden = text === null;
  }

  function replaceDraft(text, previous) {
    const area = textarea();
    area.value = text;
    area.focus();
    area.setSelectionRange(text.length, text.length);
    setUndo(previous);
  }

  function sources(out) {
    const titles = [...new Set((out.citations || []).map((c) => c.title).filter(Boolean))];
    return titles.length ? ` Sources: ${titles.join(", ")}.` : "";
  }

  async function run(action) {
    const id = openId();
    const area = textarea();
    if (busy || !id || !area) return;
    composerError("");
    let body = {};
    const draft = area.value;
    if (action === "rewrite") {
      if (!draft.trim()) {
        composerError("Write a draft in the message box first, then rewrite it.");
        area.focus();
        return;
      }
      if (draft.length > MAX_TEXT) {
        composerError(`The draft is too long to rewrite (at most ${MAX_TEXT} characters).`);
        return;
      }
      body = { text: draft, tone: byId("assist-tone").value };
    }
    setBusy(action, true);
    let out = null;
    let failure = null;
    try {
      out = await window.wacc.api("POST", url(id, action), body);
    } catch (error) {
      failure = error;
    }
    // Another conversation may have been opened meanwhile: its composer is not this one.
    if (openId() !== id || textarea() !== area) { busy = false; return; }
    setBusy(action, false);
    if (failure) {
      composerError(describe(action, failure));
      return;
    }
    const text = (out && out.text) || "";
    if (action === "summarize") {
      showSummary(text);
      status("Summary ready.");
    } else {
      replaceDraft(text, draft);
      status(action === "suggest"
        ? `Suggested reply placed in the message box: edit it, then send.${sources(out)}`
        : "Draft rewritten. Undo puts your text back.");
    }
  }

  function showSummary(text) {
    const panel = byId("assist-summary");
    const box = byId("assist-summary-text");
    if (!panel || !box) return;
    box.textContent = text; // the model's words are text, never markup
    panel.hidden = false;
    byId("assist-summarize")?.setAttribute("aria-expanded", "true");
    box.focus();
  }

  function closeSummary() {
    const panel = byId("assist-summary");
    if (!panel || panel.hidden) return;
    panel.hidden = true;
    const button = byId("assist-summarize");
    button?.setAttribute("aria-expanded", "false");
    button?.focus();
  }

  function undo() {
    if (undoText === null || !textarea()) return;
    const text = undoText;
    replaceDraft(text, null);
    status("Your text is back.");
  }

  document.addEventListener("click", (event) => {
    const el = event.target.closest("[data-assist]");
    if (!el || !el.closest("#composer")) return;
    const action = el.dataset.assist;
    if (action === "undo") undo();
    else if (action === "close-summary") closeSummary();
    else if (DOING[action]) run(action);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && event.target.closest?.("#assist-summary")) {
      event.preventDefault();
      closeSummary();
    }
  });
  // While the AI rewrites or replaces the draft, the old draft must not be sent (by Enter
  // or the Send button): the capture phase runs before the composer's submit handler.
  const drafting = () => busy && textarea()?.readOnly;
  document.addEventListener("submit", (event) => {
    if (event.target.id !== "composer") return;
    if (drafting()) {
      event.preventDefault();
      event.stopPropagation();
      return;
    }
    setUndo(null); // the text is being sent: nothing left to undo
  }, true);
  // Another conversation: its composer is new, with nothing to undo.
  document.addEventListener("inbox:opened", () => {
    busy = false;
    setUndo(null);
  });
})();
