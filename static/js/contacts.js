// Contacts pages: the list's address and export link follow the filters, and the CSV
// import (read the header in the browser, map columns, upload, follow the progress).
(() => {
  "use strict";

  // -- list: keep the address bar and the export link in step with the filters --------
  const filters = document.getElementById("contact-filters");
  if (filters) {
    const sync = () => {
      const params = new URLSearchParams();
      for (const [key, value] of new FormData(filters)) if (value) params.set(key, value);
      const query = params.toString();
      history.replaceState(null, "", query ? `/contacts?${query}` : "/contacts");
      const exportLink = document.getElementById("contacts-export");
      if (exportLink) {
        // The export knows the list's search and tag filters (GET /contacts' own).
        const only = new URLSearchParams();
        for (const key of ["search", "tagId"]) if (params.get(key)) only.set(key, params.get(key));
        exportLink.href = `/api/v1/contacts/export${only.toString() ? "?" + only : ""}`;
      }
    };
    filters.addEventListener("input", sync);
    filters.addEventListener("change", sync);
    filters.addEventListener("submit", (event) => event.preventDefault());
  }

  // -- import -----------------------------------------------------------------------
  const form = document.getElementById("import-form");
  if (!form) return;
  const fileInput = document.getElementById("import-file");
  const choices = JSON.parse(form.dataset.choices || "[]");
  const HEAD_BYTES = 64 * 1024;
  let columns = [];
  let rowEstimate = 0;

  // One CSV record from the start of *text*: quoted cells may hold the delimiter,
  // doubled quotes and line breaks. Returns [cells, index after the record].
  function readRecord(text, delimiter) {
    const cells = [];
    let cell = "";
    let i = 0;
    let quoted = false;
    for (; i < text.length; i++) {
      const ch = text[i];
      if (quoted) {
        if (ch === '"' && text[i + 1] === '"') { cell += '"'; i++; }
        else if (ch === '"') quoted = false;
        else cell += ch;
      } else if (ch === '"' && cell === "") quoted = true;
      else if (ch === delimiter) { cells.push(cell); cell = ""; }
      else if (ch === "\n" || ch === "\r") {
        if (ch === "\r" && text[i + 1] === "\n") i++;
        i++;
        break;
      } else cell += ch;
    }
    cells.push(cell);
    return [cells, i];
  }

  // The delimiter the header line uses most, as the server decides (docs/import-export.md).
  function delimiterOf(line) {
    let best = ",";
    let most = -1;
    for (const d of [",", ";", "\t"]) {
      const n = line.split(d).length - 1;
      if (n > most) { most = n; best = d; }
    }
    return best;
  }

  // A column's likely field from its name, as the server's default mapping would.
  function guess(name) {
    const key = name.trim().toLowerCase().replace(/[\s_-]+/g, "");
    const aliases = {
      name: "name", fullname: "name", phone: "phone", phonenumber: "phone", mobile: "phone",
      whatsapp: "phone", email: "email", mail: "email", language: "language", lang: "language",
      timezone: "timezone", tags: "tags", tag: "tags",
    };
    if (aliases[key]) return aliases[key];
    const custom = choices.find(([value]) => value.toLowerCase() === name.trim().toLowerCase() ||
      value.toLowerCase() === `custom.${key}`);
    return custom ? custom[0] : "";
  }

  function mappingRow(name, index, sample) {
    const tr = document.createElement("tr");
    const th = document.createElement("th");
    th.scope = "row";
    th.textContent = name || `(column ${index + 1} has no name)`;
    const sampleCell = document.createElement("td");
    sampleCell.dataset.label = "First value";
    sampleCell.className = "muted";
    sampleCell.textContent = sample || "";
    const pick = document.createElement("td");
    pick.dataset.label = "Contact field";
    const label = document.createElement("label");
    label.className = "visually-hidden";
    label.htmlFor = `map-${index}`;
    label.textContent = `Field for column ${name}`;
    const select = document.createElement("select");
    select.id = `map-${index}`;
    select.name = `_map_${index}`;
    select.dataset.column = name;
    const ignore = new Option("Ignore this column", "");
    select.add(ignore);
    for (const [value, text] of choices) select.add(new Option(text, value));
    select.value = guess(name);
    pick.append(label, select);
    tr.append(th, sampleCell, pick);
    return tr;
  }

  async function readHeader(file) {
    const head = await file.slice(0, HEAD_BYTES).text();
    const text = head.replace(/^\uFEFF/, "");
    const firstLine = text.split(/\r?\n/, 1)[0];
    const delimiter = delimiterOf(firstLine);
    const [header, next] = readRecord(text, delimiter);
    const [sample] = readRecord(text.slice(next), delimiter);
    return { header, sample };
  }

  async function countRows(file) {
    // For the progress bar when the live event (which carries the total) is missed.
    if (file.size > 32 * 1024 * 1024) return 0;
    const text = await file.text();
    const lines = text.split("\n").filter((line) => line.trim() !== "").length;
    return Math.max(lines - 1, 0);
  }

  fileInput.addEventListener("change", async () => {
    window.wacc.clearErrors(form);
    const file = fileInput.files[0];
    const step = document.getElementById("mapping-step");
    step.hidden = true;
    if (!file) return;
    let parsed;
    try { parsed = await readHeader(file); } catch (_) {
      window.wacc.showErrors(form, { message: "That file could not be read.", details: [] });
      return;
    }
    columns = parsed.header.map((c) => c.trim());
    if (!columns.length || columns.every((c) => c === "")) {
      window.wacc.showErrors(form, { message: "The file has no header line: its first line must name the columns.", details: [] });
      return;
    }
    const body = document.getElementById("mapping-rows");
    body.replaceChildren(...columns.map((name, i) => mappingRow(name, i, parsed.sample[i])));
    document.getElementById("mapping-summary").textContent =
      `${columns.length} columns found. Choose the contact field each one fills; the phone number is required.`;
    step.hidden = false;
    rowEstimate = await countRows(file);
  });

  function mapping() {
    const out = {};
    form.querySelectorAll("#mapping-rows select").forEach((select) => {
      if (select.value && select.dataset.column) out[select.dataset.column] = select.value;
    });
    return out;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    window.wacc.clearErrors(form);
    const file = fileInput.files[0];
    if (!file) return;
    const max = Number(form.dataset.maxBytes || 0);
    if (max && file.size > max) {
      window.wacc.showErrors(form, { message: `That file is too large: the limit is ${Math.round(max / 1048576)} MB.`, details: [] });
      return;
    }
    const map = mapping();
    if (!Object.values(map).includes("phone")) {
      window.wacc.showErrors(form, { message: "Choose the column that holds the phone number.", details: [] });
      return;
    }
    const body = new FormData();
    body.append("file", file, file.name);
    body.append("mapping", JSON.stringify(map));
    body.append("onDuplicate", form.elements.onDuplicate.value);
    const region = form.elements.defaultRegion.value.trim();
    if (region) body.append("defaultRegion", region);
    const submit = form.querySelector("button[type=submit]");
    submit.disabled = true;
    form.setAttribute("aria-busy", "true");
    try {
      const job = await window.wacc.api("POST", "/api/v1/contacts/import", body);
      follow(job);
    } catch (error) {
      window.wacc.showErrors(form, error);
    } finally {
      submit.disabled = false;
      form.removeAttribute("aria-busy");
    }
  });

  // -- progress: live events, with polling as the fallback -----------------------------
  function follow(job) {
    const panel = document.getElementById("import-progress");
    const bar = document.getElementById("import-bar");
    const status = document.getElementById("import-status");
    const counts = document.getElementById("import-counts");
    let total = rowEstimate;
    let finished = false;
    let timer = null;
    form.closest("section").hidden = true;
    panel.hidden = false;

    function show(state) {
      if (finished) return;
      if (typeof state.total === "number" && state.total > 0) total = state.total;
      const processed = state.processed || 0;
      const done = state.status === "DONE" || state.status === "FAILED";
      const percent = done ? 100 : (total ? Math.min(99, Math.floor((processed / total) * 100)) : 0);
      bar.value = percent;
      bar.setAttribute("aria-valuenow", String(percent));
      bar.setAttribute("aria-valuetext", `${percent}%`);
      counts.hidden = false;
      for (const key of ["created", "updated", "skipped", "failed"]) {
        counts.querySelector(`[data-count="${key}"]`).textContent = String(state[key] || 0);
      }
      if (state.status === "PENDING") status.textContent = "Waiting for the import to start…";
      else if (!done) status.textContent = `Imported ${processed}${total ? ` of about ${total}` : ""} rows (${percent}%).`;
      if (!done) return;
      finished = true;
      clearTimeout(timer);
      document.removeEventListener("live:import:progress", onEvent);
      panel.querySelector("h2").textContent = state.status === "FAILED" ? "Import failed" : "Import finished";
      if (state.status === "FAILED") {
        status.textContent = `The import failed${state.error ? ": " + state.error : ""}. Rows imported before the failure are kept.`;
      } else {
        status.textContent = `Import finished: ${processed} rows read.`;
      }
      if ((state.failed || 0) > 0) {
        document.getElementById("import-report-link").href = `/api/v1/contacts/imports/${encodeURIComponent(job.id)}/errors`;
        document.getElementById("import-report").hidden = false;
      }
      document.getElementById("import-done").hidden = false;
      refreshRecent();
    }

    // The "Recent imports" table was drawn with the page, before this import existed:
    // take the server's fresh one (it said "No imports yet" after a first import).
    async function refreshRecent() {
      try {
        const response = await fetch(window.location.pathname, { credentials: "same-origin", headers: { "Accept": "text/html" } });
        if (!response.ok) return;
        const fresh = new DOMParser().parseFromString(await response.text(), "text/html").getElementById("recent-imports");
        const old = document.getElementById("recent-imports");
        if (fresh && old) old.replaceWith(document.adoptNode(fresh));
      } catch (_) { /* the table is a convenience; the import itself is done */ }
    }

    function onEvent(event) {
      const data = event.detail || {};
      if (data.importId !== job.id) return;
      // The final event carries the status; read the import once more for its error text.
      if (data.status === "DONE" || data.status === "FAILED") poll();
      else show(data);
    }

    async function poll() {
      try {
        const state = await window.wacc.api("GET", `/api/v1/contacts/imports/${encodeURIComponent(job.id)}`);
        show(state);
      } catch (_) { /* a passing failure: the next poll tries again */ }
      if (!finished) { clearTimeout(timer); timer = setTimeout(poll, 2000); }
    }

    document.addEventListener("live:import:progress", onEvent);
    document.addEventListener("live:reconnected", () => { if (!finished) poll(); });
    show(job);
    timer = setTimeout(poll, 1000);
  }
})();
