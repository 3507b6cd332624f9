// wacc's page script, shared by every page.
//
// Forms and buttons with data-api send JSON to the API with the session cookie and the
// CSRF header; errors come back in the API's error format and are shown in words next to
// the form (and its fields), never as raw JSON. htmx (for partial page loads) gets the
// same CSRF header and the same error messages.
(() => {
  "use strict";

  const csrf = () => document.querySelector('meta[name="csrf-token"]')?.content || "";

  const STATUS_WORDS = {
    400: "Some of the information is not valid.",
    401: "Your sign-in expired. Sign in again.",
    403: "You do not have permission to do that.",
    404: "That item no longer exists.",
    409: "That conflicts with something that already exists.",
    413: "That is too large to upload.",
    429: "Too many attempts. Wait a moment and try again.",
    500: "Something went wrong on the server. Try again.",
    503: "The service is busy or starting. Try again in a moment.",
  };

  function errorOf(status, data) {
    const err = data && data.error;
    const message = (err && typeof err.message === "string" && err.message) ||
      STATUS_WORDS[status] || `The request failed (${status}).`;
    const details = (err && Array.isArray(err.details)) ? err.details : [];
    return { status, message, details };
  }

  async function api(method, url, body, { form = false } = {}) {
    const headers = { "Accept": "application/json", "X-CSRF-Token": csrf() };
    let payload;
    if (body instanceof FormData) {
      payload = body;
    } else if (body !== undefined && body !== null) {
      headers["Content-Type"] = "application/json";
      payload = JSON.stringify(body);
    }
    let response;
    try {
      response = await fetch(url, { method, headers, body: payload, credentials: "same-origin" });
    } catch (_) {
      throw { status: 0, message: "Could not reach the server. Check your connection and try again.", details: [] };
    }
    const text = await response.text();
    let data = null;
    if (text) { try { data = JSON.parse(text); } catch (_) { data = null; } }
    if (!response.ok) {
      const error = errorOf(response.status, data);
      if (response.status === 401 && !url.startsWith("/ui/login") && !url.startsWith("/ui/setup")) {
        const next = encodeURIComponent(location.pathname + location.search);
        location.assign(`/login?expired=1&next=${next}`);
      }
      throw error;
    }
    return data;
  }

  // -- toasts -------------------------------------------------------------------------
  function toast(message, kind = "info") {
    let region = document.getElementById("toasts");
    if (!region) {
      region = document.createElement("div");
      region.id = "toasts";
      region.className = "toasts";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    const item = document.createElement("div");
    item.className = `toast toast-${kind}`;
    item.textContent = message;
    region.appendChild(item);
    setTimeout(() => item.remove(), kind === "error" ? 8000 : 4000);
  }

  // -- forms --------------------------------------------------------------------------
  function setPath(target, path, value) {
    const keys = path.split(".");
    let node = target;
    keys.slice(0, -1).forEach((key) => { node = node[key] = node[key] || {}; });
    node[keys[keys.length - 1]] = value;
  }

  function fieldValue(el) {
    const type = el.dataset.type;
    if (el.type === "checkbox" && !type) return el.checked;
    let value = el.value;
    if (type === "number") return value === "" ? null : Number(value);
    if (type === "list") return value.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
    if (type === "json") return value.trim() === "" ? null : JSON.parse(value);
    if (type === "bool") return value === "true";
    return value;
  }

  // A form's fields as JSON: names may be dotted ("settings.timezone"); a field with
  // data-type="array" (checkbox groups, multi-selects) collects its values into a list;
  // an empty optional field is left out, or sent as null (data-nullable) or "" (data-empty).
  function formJSON(form) {
    const out = {};
    for (const el of form.elements) {
      if (!el.name || el.disabled || el.name.startsWith("_")) continue;
      if (el.type === "file") continue;
      if (el.dataset.type === "array") {
        const current = el.name.split(".").reduce((o, k) => (o || {})[k], out) || [];
        if (el.tagName === "SELECT") {
          for (const opt of el.selectedOptions) current.push(opt.value);
        } else if (el.checked) {
          current.push(el.value);
        }
        setPath(out, el.name, current);
        continue;
      }
      if (el.type === "radio" && !el.checked) continue;
      if (el.type === "checkbox" && el.dataset.type) { if (!el.checked) continue; }
      let value;
      try { value = fieldValue(el); } catch (_) {
        throw { status: 400, message: "Invalid input", details: [{ field: el.name, message: "is not valid JSON" }] };
      }
      if (value === "" || value === null) {
        // Left out by default, so a PATCH keeps the stored value; data-nullable clears
        // it with null, data-empty="string" with "" (for text the API wants as "").
        if (el.dataset.nullable !== undefined) setPath(out, el.name, null);
        else if (el.dataset.empty === "string") setPath(out, el.name, "");
        continue;
      }
      setPath(out, el.name, value);
    }
    return out;
  }

  function errorBox(form) {
    let box = form.querySelector(".form-error");
    if (!box) {
      box = document.createElement("div");
      box.className = "form-error";
      box.setAttribute("role", "alert");
      form.prepend(box);
    }
    return box;
  }

  function clearErrors(form) {
    const box = form.querySelector(".form-error");
    if (box) { box.hidden = true; box.textContent = ""; }
    form.querySelectorAll(".field-error").forEach((el) => el.remove());
    form.querySelectorAll("[aria-invalid]").forEach((el) => el.removeAttribute("aria-invalid"));
  }

  function findField(form, name) {
    if (!name) return null;
    const candidates = [name, name.split(".").pop(), name.replace(/^body\./, "")];
    for (const candidate of candidates) {
      const el = form.querySelector(`[name="${CSS.escape(candidate)}"]`);
      if (el) return el;
    }
    return null;
  }

  // The validator's own wording ("Object missing required field `name`", "Expected `str`
  // matching regex '^[^@\\s]…'") said in words, on the field it is about. The API keeps
  // the exact text for programs; a person filling a form gets this.
  function inWords(detail) {
    const text = String(detail.message || "").replace(/ - at `\$[^`]*`$/, "");
    let field = detail.field;
    let message = text;
    let m = text.match(/missing required field `([^`]+)`/);
    if (m) { field = m[1]; message = "Fill this in."; }
    else if (/matching regex/.test(text)) message = /@/.test(text) ? "Enter an e-mail address, like name@example.com." : "Check the format of this value.";
    else if ((m = text.match(/of length >= (\d+)/))) message = m[1] === "1" ? "Fill this in." : `Use at least ${m[1]} characters.`;
    else if ((m = text.match(/of length <= (\d+)/))) message = `Use at most ${m[1]} characters.`;
    else if (/^Expected `/.test(text)) message = "Check this value.";
    return { field, message };
  }

  function showErrors(form, error) {
    const box = errorBox(form);
    const unplaced = [];
    error.details.map(inWords).forEach((detail, i) => {
      const el = findField(form, detail.field);
      if (!el) { unplaced.push(detail); return; }
      const note = document.createElement("span");
      note.className = "field-error";
      note.id = `${form.id || "form"}-err-${i}`;
      note.textContent = detail.message;
      el.setAttribute("aria-invalid", "true");
      el.setAttribute("aria-describedby", note.id);
      el.insertAdjacentElement("afterend", note);
    });
    box.textContent = error.message;
    if (unplaced.length) {
      const list = document.createElement("ul");
      unplaced.forEach((d) => {
        const li = document.createElement("li");
        li.textContent = d.field ? `${d.field}: ${d.message}` : d.message;
        list.appendChild(li);
      });
      box.appendChild(list);
    }
    box.hidden = false;
    const firstBad = form.querySelector("[aria-invalid]");
    (firstBad || box).focus?.();
  }

  function fill(template, data) {
    return template.replace(/\{(\w+)\}/g, (_, key) => encodeURIComponent((data && data[key]) ?? ""));
  }

  // data-then: space-separated steps run after success.
  function then(el, data) {
    if (data && typeof data.redirect === "string" && data.redirect.startsWith("/")) {
      location.assign(data.redirect);
      return;
    }
    for (const step of (el.dataset.then || "").split(/\s+/).filter(Boolean)) {
      const [verb, ...rest] = step.split(":");
      const arg = rest.join(":");
      if (verb === "reload") location.reload();
      else if (verb === "redirect") location.assign(fill(arg, data));
      else if (verb === "event") document.body.dispatchEvent(new CustomEvent(arg, { detail: data, bubbles: true }));
      else if (verb === "reset" && el.tagName === "FORM") el.reset();
      else if (verb === "close") el.closest("dialog")?.close();
      else if (verb === "toast") toast(decodeURIComponent(arg.replace(/_/g, " ")));
    }
    el.dispatchEvent(new CustomEvent("wacc:done", { detail: data, bubbles: true }));
  }

  async function submitForm(form, submitter) {
    clearErrors(form);
    if (form.dataset.confirm && !confirm(form.dataset.confirm)) return;
    const method = (form.dataset.method || "POST").toUpperCase();
    let body;
    try {
      if (form.enctype === "multipart/form-data") {
        body = new FormData(form);
        const max = Number(form.dataset.maxBytes || 0);
        for (const value of body.values()) {
          if (max && value instanceof File && value.size > max) {
            throw { status: 413, message: `That file is too large: the limit is ${Math.round(max / 1048576)} MB.`, details: [] };
          }
        }
      } else {
        body = formJSON(form);
      }
    } catch (error) { showErrors(form, error); return; }
    const buttons = form.querySelectorAll("button, [type=submit]");
    buttons.forEach((b) => { b.disabled = true; });
    form.setAttribute("aria-busy", "true");
    try {
      const url = form.dataset.api;
      const data = await api(method, url, method === "GET" || method === "DELETE" ? null : body);
      then(form, data);
    } catch (error) {
      showErrors(form, error.message ? error : errorOf(0, null));
    } finally {
      buttons.forEach((b) => { b.disabled = false; });
      form.removeAttribute("aria-busy");
    }
  }

  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    event.preventDefault();
    submitForm(form, event.submitter);
  });

  // Buttons (outside forms) that call the API: data-api, data-method, data-body (JSON).
  document.addEventListener("click", async (event) => {
    const button = event.target.closest("button[data-api], a[data-api]");
    if (!button) return;
    if (button.type === "submit" && button.closest("form[data-api]")) return;
    event.preventDefault();
    if (button.dataset.confirm && !confirm(button.dataset.confirm)) return;
    button.disabled = true;
    try {
      const body = button.dataset.body ? JSON.parse(button.dataset.body) : null;
      const data = await api((button.dataset.method || "POST").toUpperCase(), button.dataset.api, body);
      then(button, data);
    } catch (error) {
      toast(error.message || "The request failed.", "error");
    } finally {
      button.disabled = false;
    }
  });

  // htmx: the CSRF header on every request, and its errors in words.
  document.addEventListener("htmx:configRequest", (event) => {
    event.detail.headers["X-CSRF-Token"] = csrf();
  });
  document.addEventListener("htmx:responseError", (event) => {
    const xhr = event.detail.xhr;
    let data = null;
    try { data = JSON.parse(xhr.responseText); } catch (_) { /* an HTML error page */ }
    toast(errorOf(xhr.status, data).message, "error");
  });
  document.addEventListener("htmx:sendError", () => {
    toast("Could not reach the server. Check your connection and try again.", "error");
  });

  // Dialogs: <button data-open="dialog-id">.
  document.addEventListener("click", (event) => {
    const opener = event.target.closest("[data-open]");
    if (opener) document.getElementById(opener.dataset.open)?.showModal();
    const closer = event.target.closest("[data-close]");
    if (closer) closer.closest("dialog")?.close();
  });

  // The side navigation folds into a menu on narrow screens.
  document.addEventListener("click", (event) => {
    const toggle = event.target.closest("[data-toggle-nav]");
    if (!toggle) return;
    const nav = document.getElementById(toggle.getAttribute("aria-controls"));
    const open = !nav.classList.contains("open");
    nav.classList.toggle("open", open);
    toggle.setAttribute("aria-expanded", String(open));
  });

  // Sign-in: a password that needs a second factor answers with a challenge, and the
  // page swaps to the code form. "Forgot password" swaps to its confirmation.
  document.addEventListener("wacc:done", (event) => {
    const data = event.detail || {};
    if (event.target.id === "login-form" && data.mfaRequired) {
      const mfa = document.getElementById("mfa-form");
      mfa.elements.mfaToken.value = data.mfaToken;
      event.target.hidden = true;
      mfa.hidden = false;
      mfa.elements.code.focus();
    } else if (event.target.id === "forgot-form") {
      event.target.hidden = true;
      document.getElementById("forgot-sent").hidden = false;
    }
  });

  // A time of day as every page shows it: 24-hour HH:MM in the organization's time zone
  // (<body data-timezone>), like the server's clock filter (wacc/ui/render.py).
  let clockFormat = null;
  function clock(date, { seconds = false } = {}) {
    const options = { hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (seconds) options.second = "2-digit";
    const zone = document.body?.dataset.timezone || "UTC";
    let format = !seconds && clockFormat;
    if (!format) {
      try { format = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: zone }); }
      catch (_) { format = new Intl.DateTimeFormat("en-GB", { ...options, timeZone: "UTC" }); }
      if (!seconds) clockFormat = format;
    }
    return format.format(date);
  }

  window.wacc = Object.assign(window.wacc || {}, { api, toast, formJSON, showErrors, clearErrors, errorOf, clock });
})();
