// AI settings (/settings/ai, /settings/knowledge-base) and a session's auto-responder:
// the steps app.js's data-api forms cannot do alone — testing and reordering providers,
// the price table and the business hours as the API's JSON, the knowledge-base search.
// Every write still goes to the JSON API with the session cookie (wacc.api).
(() => {
  "use strict";

  // An error kind of POST /ai/test (docs/ai.md) in words.
  const KINDS = {
    auth: "the API key was refused",
    timeout: "no answer in time",
    rate_limited: "the provider's rate limit was reached",
    unavailable: "the provider could not be reached",
    bad_response: "the provider's answer was not a valid completion",
    bad_request: "the provider refused the request (unknown model or a bad value)",
    unsupported: "this provider type cannot do that",
  };

  function stop(event, form, details, message) {
    event.preventDefault();
    event.stopImmediatePropagation();
    wacc.clearErrors(form);
    wacc.showErrors(form, { status: 400, message, details });
  }

  // -- the price table as {"model": {"input": x, "output": y}} ---------------------------
  function pricesOf(form) {
    const prices = {};
    const details = [];
    form.querySelectorAll("[data-price-row]").forEach((row) => {
      const model = row.querySelector('[name="_model"]').value.trim();
      const input = Number(row.querySelector('[name="_input"]').value || 0);
      const output = Number(row.querySelector('[name="_output"]').value || 0);
      if (!model) return;
      if (prices[model]) details.push({ field: "prices", message: `${model} is listed twice` });
      if (!(input >= 0) || !(output >= 0)) details.push({ field: "prices", message: `${model}: prices must be 0 or more` });
      prices[model] = { input, output };
    });
    return { prices, details };
  }

  // -- business hours as {"timezone", "days": {"mon": [["09:00", "17:00"]]}} -------------
  const SPAN = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/;
  const clock = (h, m) => `${String(Number(h)).padStart(2, "0")}:${m}`;

  function hoursOf(form) {
    const mode = form.querySelector('[name="_hoursMode"]:checked');
    if (!mode || mode.value === "always") return { hours: null, details: [] };
    const days = {};
    const details = [];
    form.querySelectorAll("[data-day]").forEach((input) => {
      const spans = [];
      for (const part of input.value.split(",").map((s) => s.trim()).filter(Boolean)) {
        const m = SPAN.exec(part);
        const start = m && clock(m[1], m[2]);
        const end = m && clock(m[3], m[4]);
        if (!m || Number(m[1]) > 24 || Number(m[3]) > 24 || Number(m[2]) > 59 || Number(m[4]) > 59) {
          details.push({ field: input.name, message: `“${part}” is not a span like 09:00-17:00` });
        } else if (start >= end) {
          details.push({ field: input.name, message: `${start}-${end}: a span must end after it starts (split one across midnight)` });
        } else {
          spans.push([start, end]);
        }
      }
      if (spans.length) days[input.dataset.day] = spans;
    });
    if (!details.length && !Object.keys(days).length) {
      details.push({ field: "_day_mon", message: "give at least one day's hours, or choose “At any hour”" });
    }
    const timezone = form.querySelector('[name="_tz"]').value;
    return { hours: { timezone, days }, details };
  }

  // Runs in the capture phase, ahead of app.js, which then sends the hidden JSON fields.
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-api]");
    if (!form) return;
    if (form.hasAttribute("data-prices")) {
      const { prices, details } = pricesOf(form);
      if (details.length) { stop(event, form, details, "Check the price table."); return; }
      form.querySelector('[name="prices"]').value = JSON.stringify(prices);
    }
    if (form.hasAttribute("data-hours")) {
      const { hours, details } = hoursOf(form);
      if (details.length) { stop(event, form, details, "Check the business hours."); return; }
      form.querySelector('[name="businessHours"]').value = hours ? JSON.stringify(hours) : "";
    }
  }, true);

  // A new provider's Model starts as its type's everyday model; choosing another type
  // swaps it unless the person typed a model of their own.
  document.addEventListener("change", (event) => {
    const type = event.target.closest("select[name=provider]");
    if (!type) return;
    const model = document.querySelector(`[data-model-for="${CSS.escape(type.id)}"]`);
    if (!model) return;
    const option = type.selectedOptions[0];
    const suggested = [...type.options].map((o) => o.dataset.model).filter(Boolean);
    if (!model.value.trim() || suggested.includes(model.value.trim())) model.value = option.dataset.model || "";
    const hint = document.getElementById(model.getAttribute("aria-describedby"));
    if (hint) hint.textContent = option.dataset.hint || "";
  });

  document.addEventListener("change", (event) => {
    const mode = event.target.closest('[name="_hoursMode"]');
    if (!mode) return;
    const fields = mode.form.querySelector("[data-hours-fields]");
    if (fields) fields.hidden = mode.value !== "hours";
  });

  // -- providers: test, reorder; prices: add and remove rows -------------------------------
  async function testProvider(button) {
    const id = button.dataset.testProvider;
    const out = document.getElementById(`test-result-${id}`);
    button.disabled = true;
    out.className = "test-result loading";
    out.textContent = "Testing…";
    // The server records each test as the provider's last check; the cell says so at once.
    const last = document.getElementById(`last-check-${id}`);
    try {
      const result = await wacc.api("POST", "/api/v1/ai/test", { providerId: id });
      if (result.ok) {
        out.className = "test-result ok";
        out.textContent = `OK: answered in ${result.latencyMs} ms${result.model ? ` (${result.model})` : ""}.`;
        if (last) last.textContent = "just now: OK";
      } else {
        out.className = "test-result error";
        const words = KINDS[result.kind] || "the test failed";
        out.textContent = `Failed: ${words}${result.error ? ` — ${result.error}` : ""} (${result.latencyMs} ms).`;
        if (last) {
          const error = document.createElement("span");
          error.className = "error";
          error.textContent = `${result.kind}: ${result.error || words}`;
          last.replaceChildren("just now: ", error);
        }
      }
    } catch (error) {
      out.className = "test-result error";
      out.textContent = error.message || "The test could not run.";
    } finally {
      button.disabled = false;
    }
  }

  // Moving a provider renumbers them all 10, 20, 30… so that the order is unambiguous.
  async function move(button) {
    const row = button.closest("tr[data-provider-id]");
    const rows = [...row.parentElement.querySelectorAll("tr[data-provider-id]")];
    const ids = rows.map((r) => r.dataset.providerId);
    const at = ids.indexOf(row.dataset.providerId);
    const to = button.dataset.move === "up" ? at - 1 : at + 1;
    if (to < 0 || to >= ids.length) return;
    [ids[at], ids[to]] = [ids[to], ids[at]];
    button.disabled = true;
    try {
      for (const [i, id] of ids.entries()) {
        await wacc.api("PATCH", `/api/v1/ai/providers/${encodeURIComponent(id)}`, { priority: (i + 1) * 10 });
      }
      location.reload();
    } catch (error) {
      wacc.toast(error.message || "The order could not be saved.", "error");
      button.disabled = false;
    }
  }

  document.addEventListener("click", (event) => {
    const test = event.target.closest("[data-test-provider]");
    if (test) { testProvider(test); return; }
    const mover = event.target.closest("[data-move]");
    if (mover) { move(mover); return; }
    const add = event.target.closest("[data-add-price]");
    if (add) {
      const template = document.getElementById("price-row-template");
      const body = document.getElementById("price-rows");
      body.appendChild(template.content.cloneNode(true));
      body.lastElementChild.querySelector("input").focus();
      document.getElementById("prices-empty")?.remove();
      return;
    }
    const remove = event.target.closest("[data-remove-row]");
    if (remove) remove.closest("tr").remove();
  });

  // -- knowledge base: what the responder would be given for a question ------------------
  function passageItem(passage) {
    const item = document.createElement("li");
    const head = document.createElement("p");
    const link = document.createElement("a");
    link.href = `/settings/knowledge-base/${encodeURIComponent(passage.articleId)}`;
    link.textContent = passage.title;
    const score = document.createElement("span");
    score.className = "badge";
    score.textContent = `relevance ${Math.round(passage.score * 100)}%`;
    head.append(link, " ", score);
    const text = document.createElement("p");
    text.className = "passage";
    text.textContent = passage.content;
    item.append(head, text);
    return item;
  }

  const search = document.getElementById("kb-search");
  if (search) {
    const results = document.getElementById("kb-results");
    search.addEventListener("submit", async (event) => {
      event.preventDefault();
      wacc.clearErrors(search);
      const q = search.elements.q.value.trim();
      if (!q) {
        wacc.showErrors(search, { status: 400, message: "Type a question first.", details: [{ field: "q", message: "is required" }] });
        return;
      }
      results.replaceChildren();
      results.className = "loading";
      search.setAttribute("aria-busy", "true");
      try {
        const passages = await wacc.api("GET", `/api/v1/ai/knowledge-base/search?q=${encodeURIComponent(q)}`);
        if (!passages.length) {
          const none = document.createElement("p");
          none.className = "empty";
          none.textContent = "No passage matches: the responder would hand this question over (or answer without the knowledge base).";
          results.append(none);
        } else {
          const list = document.createElement("ol");
          list.className = "passages";
          passages.forEach((p) => list.append(passageItem(p)));
          results.append(list);
        }
      } catch (error) {
        wacc.showErrors(search, error);
      } finally {
        results.className = "";
        search.removeAttribute("aria-busy");
      }
    });
  }
})();
