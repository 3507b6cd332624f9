// Team, settings and profile pages: the few steps that need more than app.js's data-api
// forms — showing a one-time secret (invite link, API key, recovery codes) and the
// two-factor enrolment.
(() => {
  "use strict";

  const $ = (id) => document.getElementById(id);

  async function copy(text, what) {
    try {
      await navigator.clipboard.writeText(text);
      wacc.toast(`${what} copied.`);
    } catch (_) {
      wacc.toast("Copying is blocked here: select the text and copy it yourself.", "error");
    }
  }

  document.addEventListener("click", (event) => {
    const one = event.target.closest("[data-copy]");
    if (one) {
      const field = $(one.dataset.copy);
      if (field) { field.select?.(); copy(field.value, "The text was"); }
      return;
    }
    const list = event.target.closest("[data-copy-list]");
    if (list) {
      const items = [...($(list.dataset.copyList)?.querySelectorAll("li") || [])];
      copy(items.map((li) => li.textContent).join("\n"), "The codes were");
    }
  });

  // Required fields left empty (or only spaces) are said in words before anything is
  // sent; the API would otherwise answer in its generic "missing field" terms. Runs in
  // the capture phase, ahead of app.js's submit handler.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    const empty = [...form.querySelectorAll("[required]")]
      .filter((el) => !el.disabled && el.name && el.value.trim() === "");
    if (!empty.length) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    wacc.clearErrors(form);
    wacc.showErrors(form, {
      status: 400,
      message: empty.length === 1 ? "Fill in the required field." : "Fill in the required fields.",
      details: empty.map((el) => ({ field: el.name, message: "is required" })),
    });
  }, true);

  // -- team: the invite result (the link is shown only when no e-mail was sent) --------
  const inviteForm = $("invite-form");
  if (inviteForm) {
    const result = $("invite-result");
    const showForm = () => {
      inviteForm.reset();
      wacc.clearErrors(inviteForm);
      inviteForm.hidden = false;
      result.hidden = true;
      $("invite-link").value = "";
    };
    inviteForm.addEventListener("wacc:done", (event) => {
      const invite = event.detail || {};
      result.querySelectorAll(".invite-to").forEach((el) => { el.textContent = invite.email || ""; });
      $("invite-emailed").hidden = !invite.emailed;
      $("invite-link-box").hidden = !invite.inviteUrl;
      $("invite-link").value = invite.inviteUrl || "";
      inviteForm.hidden = true;
      result.hidden = false;
      (invite.inviteUrl ? $("invite-link") : result).focus?.();
    });
    $("invite-another").addEventListener("click", showForm);
    $("invite-dialog").addEventListener("close", showForm);
  }

  // -- custom fields: options only for the select types ---------------------------------
  const fieldType = $("field-type");
  if (fieldType) {
    const sync = () => {
      const choice = fieldType.value === "SELECT" || fieldType.value === "MULTISELECT";
      $("field-options").disabled = !choice;
    };
    fieldType.addEventListener("change", sync);
    sync();
  }

  // -- API keys: the expiry date as an instant, the secret shown once -------------------
  const expiry = $("key-expiry");
  if (expiry) {
    const sync = () => { $("key-expires-at").value = expiry.value ? `${expiry.value}T23:59:59Z` : ""; };
    expiry.addEventListener("change", sync);
    expiry.addEventListener("input", sync);
    $("key-form").addEventListener("reset", () => { $("key-expires-at").value = ""; });
  }
  const keyForm = $("key-form");
  if (keyForm) {
    const dialog = $("key-dialog");
    keyForm.addEventListener("wacc:done", (event) => {
      $("key-secret").value = (event.detail && event.detail.key) || "";
      dialog.showModal();
      $("key-secret").select();
    });
    $("key-dialog-done").addEventListener("click", () => dialog.close());
    // Once closed the secret leaves the page for good; the reload lists the new key.
    dialog.addEventListener("close", () => {
      $("key-secret").value = "";
      location.reload();
    });
  }

  // -- profile: two-factor enrolment ------------------------------------------------------
  const setup = $("mfa-setup");
  if (setup) {
    const start = $("mfa-start");
    const box = start.querySelector(".form-error");
    setup.addEventListener("click", async () => {
      box.hidden = true;
      setup.disabled = true;
      setup.classList.add("loading");
      try {
        const data = await wacc.api("POST", "/api/v1/auth/mfa/setup");
        $("mfa-qr").src = data.qrDataUri;
        $("mfa-secret").textContent = data.secret;
        start.hidden = true;
        $("mfa-enroll").hidden = false;
        $("enable-code").focus();
      } catch (error) {
        box.textContent = error.message;
        box.hidden = false;
      } finally {
        setup.disabled = false;
        setup.classList.remove("loading");
      }
    });
    $("mfa-enable-form").addEventListener("wacc:done", (event) => {
      const codes = (event.detail && event.detail.recoveryCodes) || [];
      const list = $("recovery-codes");
      list.replaceChildren(...codes.map((code) => {
        const li = document.createElement("li");
        li.textContent = code;
        return li;
      }));
      $("mfa-enroll").hidden = true;
      $("mfa-secret").textContent = "";
      $("mfa-off").hidden = true;
      $("mfa-recovery").hidden = false;
      $("mfa-done").focus();
    });
    $("mfa-done").addEventListener("click", () => location.reload());
  }
})();
