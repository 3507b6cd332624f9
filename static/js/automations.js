// Automations: the list's enable switch and stats, the dry run, and what the step
// builder (static/js/automation-builder.js) shares: the element helper and the catalog
// of trigger, condition and step types the builder offers.
(() => {
  "use strict";
  const API = "/api/v1/automations";
  let seq = 0;
  const uid = (p) => `${p}-${++seq}`;

  function h(tag, attrs = {}, ...children) {
    const el = document.createElement(tag);
    let value;
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") el.className = v;
      else if (k === "text") el.textContent = v;
      else if (k === "value") value = v;
      else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
      else el.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
    }
    if (value !== undefined) el.value = value;
    return el;
  }

  // -- the list page -------------------------------------------------------------------
  function initList(table) {
    table.addEventListener("change", async (event) => {
      const box = event.target.closest(".enabled-toggle");
      if (!box) return;
      const want = box.checked;
      box.disabled = true;
      try {
        const out = await wacc.api("PATCH", `${API}/${encodeURIComponent(box.dataset.id)}`, { enabled: want });
        box.checked = out.enabled;
        box.nextElementSibling.textContent = out.enabled ? "On" : "Off";
        wacc.toast(`“${out.name}” is ${out.enabled ? "enabled" : "disabled"}.`);
      } catch (error) {
        box.checked = !want;
        wacc.toast(error.message, "error");
      } finally { box.disabled = false; }
    });
    // Run counts move while the page is open: refresh them from the stats endpoint.
    const refresh = async () => {
      if (document.hidden) return;
      for (const cell of table.querySelectorAll("[data-stats-for]")) {
        try {
          const s = await wacc.api("GET", `${API}/${encodeURIComponent(cell.dataset.statsFor)}/stats`);
          cell.replaceChildren(h("span", { class: "badge", text: `${s.runs} run${s.runs === 1 ? "" : "s"}` }), " ",
            h("span", { class: "badge ok", text: `${s.completed} completed` }),
            s.failed ? h("span", { class: "badge failed", text: ` ${s.failed} failed` }) : null);
        } catch (_) { /* the row was deleted elsewhere; the next reload shows it */ }
      }
    };
    setInterval(refresh, 30000);
  }

  // -- what the builder offers --------------------------------------------------------
  const STEP_TYPES = [["send_message", "Send a message"], ["ai_reply", "AI reply"], ["assign", "Assign"],
    ["add_tag", "Add a tag"], ["remove_tag", "Remove a tag"], ["set_field", "Set a contact field"],
    ["set_priority", "Set priority"], ["set_status", "Set status"], ["add_note", "Add an internal note"],
    ["call_webhook", "Call a webhook"], ["wait", "Wait"], ["if", "If / else branch"], ["stop", "Stop"]];
  const STEP_LABEL = Object.fromEntries(STEP_TYPES);
  const TEXT = ["eq", "neq", "contains", "notContains", "startsWith", "in", "notIn", "exists", "notExists"];
  const CHOICE = ["eq", "neq", "in", "notIn"];
  const FIELDS = {
    "message.body": [...TEXT, "regex"], "message.type": CHOICE, "message.fromMe": ["eq", "neq"],
    "contact.isNew": ["eq", "neq"], "contact.name": TEXT, "contact.phone": TEXT, "contact.email": TEXT,
    "contact.language": TEXT, "contact.tag": ["has", "notHas"], "conversation.tag": ["has", "notHas"],
    "conversation.status": CHOICE, "conversation.priority": CHOICE, "conversation.session": CHOICE,
    "conversation.assigned": ["eq", "neq"], "conversation.assignee": ["has", "notHas"],
    "time.weekday": ["in", "notIn"], "time.hour": ["eq", "neq", "gt", "gte", "lt", "lte"],
  };
  const CUSTOM_OPS = ["eq", "neq", "contains", "in", "notIn", "gt", "gte", "lt", "lte", "exists", "notExists"];
  const OP_LABEL = { eq: "is", neq: "is not", contains: "contains", notContains: "does not contain",
    startsWith: "starts with", in: "is one of", notIn: "is none of", exists: "is set", notExists: "is not set",
    regex: "matches the pattern", has: "has", notHas: "does not have", gt: ">", gte: "≥", lt: "<", lte: "≤",
    within: "within", outside: "outside" };
  const BOOL_FIELDS = new Set(["message.fromMe", "contact.isNew", "conversation.assigned"]);
  const DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
  const WAIT_UNITS = [["days", 86400], ["hours", 3600], ["minutes", 60], ["seconds", 1]];  // largest first
  const MESSAGE_TRIGGERS = new Set(["message.received", "outside_business_hours", "no_reply"]);

  function variables(kind) {
    const out = ["org.name"];
    if (kind === "schedule" || kind === "webhook") return out;
    out.push("contact.name", "contact.phone", "contact.email");
    if (kind !== "contact.created") out.push("conversation.id", "conversation.status", "conversation.priority");
    if (MESSAGE_TRIGGERS.has(kind)) out.push("message.body");
    return out;
  }

  function newStep(type, cat) {
    const firstTag = cat.tags[0] ? cat.tags[0].id : "";
    return ({
      send_message: { text: "" }, add_note: { text: "" }, ai_reply: { systemPrompt: "", useKnowledge: false, knowledgeOnly: false },
      assign: { strategy: "round_robin" }, add_tag: { tagId: firstTag, on: "conversation" },
      remove_tag: { tagId: firstTag, on: "conversation" },
      set_field: { key: cat.fields[0] ? cat.fields[0].key : "", value: "" }, set_priority: { priority: "HIGH" },
      set_status: { status: "RESOLVED" }, call_webhook: { url: "" }, wait: { minutes: 5 },
      if: { conditions: { all: [] }, then: [], else: [] }, stop: {},
    })[type];
  }

  function newTrigger(type) {
    return ({ "message.received": { match: "keywords", keywords: [], mode: "contains" }, no_reply: { minutes: 60 },
      schedule: { cron: "0 9 * * mon-fri" }, "tag.added": { tagId: "" } })[type] || {};
  }

  // A saved wait is {seconds}; the editor shows the largest whole unit.
  function normaliseSteps(steps) {
    for (const step of steps || []) {
      if (step.type === "wait" && step.seconds !== undefined && Object.keys(step).length === 2) {
        const [unit, size] = WAIT_UNITS.find(([, s]) => step.seconds % s === 0);
        step[unit] = step.seconds / size;
        if (unit !== "seconds") delete step.seconds;
      }
      if (step.type === "if") { normaliseSteps(step.then); normaliseSteps(step.else); }
    }
    return steps;
  }

  // -- dry run --------------------------------------------------------------------------
  function initDryRun(definition, showErrors, names) {
    const button = document.getElementById("dry-run-button");
    const results = document.getElementById("dry-run-results");
    const seconds = (s) => WAIT_UNITS.map(([u, size]) => (s % size === 0 ? `${s / size} ${u}` : null)).find(Boolean);
    const effect = (s) => {
      switch (s.type) {
        case "send_message": return `Send “${s.text}”`;
        case "add_note": return `Add the note “${s.text}”`;
        case "add_tag": return `Add the tag “${names.tagName(s.tagId)}” to the ${s.on}`;
        case "remove_tag": return `Remove the tag “${names.tagName(s.tagId)}” from the ${s.on}`;
        case "assign": return `Assign to ${names.userName(s.userId)}${s.strategy ? ` (${s.strategy.replace("_", " ")})` : ""}`;
        case "wait": return `Wait ${seconds(s.seconds)}`;
        case "if": return `Branch: take “${s.branch}”`;
        case "set_status": return `Set the status to ${s.status}`;
        case "set_priority": return `Set the priority to ${s.priority}`;
        case "set_field": return `Set ${s.key} to ${JSON.stringify(s.value)}`;
        case "call_webhook": return `Call ${s.url}`;
        case "ai_reply": return "Write and send an AI reply";
        case "stop": return "Stop";
        default: return s.type;
      }
    };
    button.addEventListener("click", async () => {
      const source = document.querySelector('input[name="dry-source"]:checked').value;
      const body = { ...definition() };
      if (source === "recent") body.recent = Number(document.getElementById("dry-recent").value) || 10;
      else body.event = { body: document.getElementById("dry-text").value, fromMe: false, type: "TEXT" };
      button.disabled = true;
      results.replaceChildren(h("p", { class: "loading", text: "Trying…" }));
      try {
        const out = await wacc.api("POST", `${API}/dry-run`, body);
        if (!out.items.length) { results.replaceChildren(h("p", { class: "empty", text: "No inbound messages to try it on yet." })); return; }
        results.replaceChildren(h("ol", { class: "dry-items" }, out.items.map((item) => h("li", { class: `dry-item ${item.conditionsMet ? "would-run" : "would-skip"}` },
          h("p", {}, h("strong", { text: item.event.body !== undefined ? `“${item.event.body || ""}”` : item.event.kind })),
          h("p", { class: "verdict", text: !item.triggered ? "The trigger would not fire." : !item.conditionsMet ? "The conditions would not hold." : "Would run:" }),
          item.steps.length ? h("ol", { class: "effects" }, item.steps.map((s) => h("li", {}, effect(s),
            s.error ? h("span", { class: "error", text: ` — would fail: ${s.error}` }) : null))) : null))));
      } catch (error) {
        results.replaceChildren();
        showErrors(error);
      } finally { button.disabled = false; }
    });
  }

  window.waccAutomations = { API, h, uid, STEP_TYPES, STEP_LABEL, FIELDS, CUSTOM_OPS, OP_LABEL, BOOL_FIELDS,
    DAYS, WAIT_UNITS, variables, newStep, newTrigger, normaliseSteps, initDryRun };

  document.addEventListener("DOMContentLoaded", () => {
    const table = document.getElementById("automations-table");
    if (table) initList(table);
  });
})();
