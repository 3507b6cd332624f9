// "Send message" on a contact and "New conversation" in the inbox (templates/inbox/_start.html):
// posts POST /api/v1/conversations, then opens the conversation. One idempotency key per
// opened dialog, so a double click or a retry after a network error sends once.
(() => {
  "use strict";

  const newKey = () => `ui-start-${Date.now()}-${Math.random().toString(36).slice(2, 10)}`;

  function isCloud(form) {
    return form.querySelector("[name=sessionId]")?.selectedOptions[0]?.dataset.engine === "cloud";
  }

  function sync(form) {
    const box = form.querySelector(".start-template");
    if (box) box.hidden = !isCloud(form);
  }

  function request(form) {
    const value = (name) => (form.querySelector(`[name=${name}]`)?.value || "").trim();
    const message = { body: form.querySelector("[name=body]").value, idempotencyKey: form.dataset.key };
    if (isCloud(form) && value("template")) {
      const language = value("templateLanguage") || "en_US";
      message.template = { name: value("template"), language: { code: language } };
      if (!message.body.trim()) message.body = `Template ${value("template")} (${language})`;
    }
    const body = { sessionId: value("sessionId"), message };
    if (form.dataset.contactId) body.contactId = form.dataset.contactId;
    else body.phone = value("phone");
    return body;
  }

  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-open=start-conversation]");
    const form = document.getElementById("start-form");
    if (!opener || !form) return;
    form.dataset.key = newKey();
    sync(form);
  });

  document.addEventListener("change", (event) => {
    const form = event.target.closest("form.start-conversation");
    if (form) sync(form);
  });

  document.addEventListener("submit", async (event) => {
    const form = event.target.closest("form.start-conversation");
    if (!form) return;
    event.preventDefault();
    const { api, showErrors, clearErrors } = window.wacc;
    clearErrors(form);
    form.dataset.key = form.dataset.key || newKey();
    const button = form.querySelector("[type=submit]");
    button.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const started = await api("POST", "/api/v1/conversations", request(form));
      location.assign(`/inbox/${encodeURIComponent(started.conversation.id)}`);
    } catch (error) {
      showErrors(form, error.message ? error : { message: "The message could not be sent.", details: [] });
    } finally {
      button.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });
})();
