// The step builder. It keeps the definition (trigger, conditions, steps) as plain JSON
// in `state` and renders its forms from it; inputs write back into the state, and
// structural edits (add, move, delete) re-render. Save sends the whole definition to
// the API, whose validation details name places like `actions[2].then[0].text`: each is
// shown next to the field or step card it names (elements carry data-path) and in the
// form's alert. Shared pieces come from static/js/automations.js.
(() => {
  "use strict";
  const { API, h, uid, STEP_TYPES, STEP_LABEL, FIELDS, CUSTOM_OPS, OP_LABEL, BOOL_FIELDS, DAYS, WAIT_UNITS,
    variables, newStep, newTrigger, normaliseSteps, initDryRun } = window.waccAutomations;

  // -- the builder ----------------------------------------------------------------------
  function initBuilder(form) {
    const cat = JSON.parse(form.dataset.catalog);
    let state = JSON.parse(form.dataset.state);
    normaliseSteps(state.actions);
    if (!state.conditions) state.conditions = { all: [] };
    const tagName = (id) => (cat.tags.find((t) => t.id === id) || {}).name || "a deleted tag";
    const userName = (id) => (cat.users.find((u) => u.id === id) || {}).name || "nobody free";

    const options = (pairs, current, blank) => [
      blank ? h("option", { value: "", text: blank }) : null,
      ...pairs.map(([v, label]) => h("option", { value: v, text: label, selected: v === current })),
    ];

    // One labelled control bound to node[key]; `read` turns the control into the value.
    function field(label, path, node, key, control, read) {
      control.id = control.id || uid("f");
      control.dataset.path = path;
      const set = () => {
        const value = read ? read(control) : control.value;
        if (value === undefined) delete node[key]; else node[key] = value;
      };
      control.addEventListener(control.tagName === "SELECT" || control.type === "checkbox" ? "change" : "input", set);
      if (control.type === "checkbox") {
        return h("label", { class: "inline", for: control.id }, control, ` ${label}`);
      }
      return h("div", { class: "field" }, h("label", { for: control.id, text: label }), control);
    }
    const text = (label, path, node, key, attrs = {}) =>
      field(label, path, node, key, h(attrs.rows ? "textarea" : "input", { ...attrs, value: node[key] ?? "" }));
    const select = (label, path, node, key, pairs, blank, rerender) => {
      const el = h("select", {}, options(pairs, node[key], blank));
      el.value = node[key] ?? "";
      const out = field(label, path, node, key, el, (c) => c.value || undefined);
      if (rerender) el.addEventListener("change", () => render());
      return out;
    };
    const check = (label, path, node, key) =>
      field(label, path, node, key, h("input", { type: "checkbox", checked: !!node[key] }), (c) => c.checked);
    const number = (label, path, node, key, attrs = {}) =>
      field(label, path, node, key, h("input", { type: "number", value: node[key] ?? "", ...attrs }),
        (c) => (c.value === "" ? undefined : Number(c.value)));
    const pairsOf = (list, id = "id", name = "name") => list.map((x) => [x[id], x[name]]);
    const same = (list) => list.map((x) => [x, x]);

    // -- trigger
    function renderTrigger() {
      const t = state.trigger;
      const typeSelect = h("select", { id: "trigger-type", "data-path": "trigger.type" },
        options(cat.triggers.map((x) => [x.type, x.label]), t.type));
      typeSelect.addEventListener("change", () => { state.trigger = { type: typeSelect.value, ...newTrigger(typeSelect.value) }; render(); });
      const out = [h("div", { class: "field" }, h("label", { for: "trigger-type", text: "Trigger" }), typeSelect)];
      if (t.type === "message.received") {
        out.push(select("Which messages", "trigger.match", t, "match", [["any", "Any message"], ["keywords", "Containing keywords"],
          ["regex", "Matching a regular expression"], ["firstMessageOfNewContact", "The first message of a new contact"]], null, true));
        if (t.match === "keywords") {
          out.push(field("Keywords (comma-separated)", "trigger.keywords", t, "keywords",
            h("input", { value: (t.keywords || []).join(", "), placeholder: "price, pricing" }),
            (c) => c.value.split(",").map((s) => s.trim()).filter(Boolean)));
          out.push(select("Match mode", "trigger.mode", t, "mode", [["contains", "Contains"], ["exact", "Exact"],
            ["startsWith", "Starts with"], ["word", "Whole word"]]));
        }
        if (t.match === "regex") out.push(text("Pattern", "trigger.pattern", t, "pattern", { maxlength: 200 }));
        if (t.match === "keywords" || t.match === "regex") out.push(check("Case-sensitive", "trigger.caseSensitive", t, "caseSensitive"));
      } else if (t.type === "conversation.status_changed") {
        for (const end of ["from", "to"]) {
          const box = h("fieldset", { class: "choices", "data-path": `trigger.${end}` },
            h("legend", { text: end === "from" ? "From status (none ticked: any)" : "To status (none ticked: any)" }));
          for (const s of cat.statuses) {
            const input = h("input", { type: "checkbox", checked: (t[end] || []).includes(s) });
            input.addEventListener("change", () => {
              const now = new Set(t[end] || []);
              if (input.checked) now.add(s); else now.delete(s);
              if (now.size) t[end] = cat.statuses.filter((x) => now.has(x)); else delete t[end];
            });
            box.append(h("label", { class: "inline" }, input, ` ${s}`));
          }
          out.push(box);
        }
      } else if (t.type === "conversation.assigned") {
        out.push(select("Assigned to", "trigger.userId", t, "userId", pairsOf(cat.users), "Anyone"));
      } else if (t.type === "tag.added") {
        out.push(select("Tag", "trigger.tagId", t, "tagId", pairsOf(cat.tags), "Choose a tag"));
      } else if (t.type === "no_reply") {
        out.push(number("Minutes without a reply", "trigger.minutes", t, "minutes", { min: 1, max: 10080 }));
      } else if (t.type === "outside_business_hours") {
        out.push(renderHours(t));
      } else if (t.type === "schedule") {
        out.push(text("Cron (minute hour day month weekday)", "trigger.cron", t, "cron", { placeholder: "0 9 * * mon-fri" }));
        out.push(text("Time zone (empty: the organization's)", "trigger.timezone", t, "timezone", { placeholder: "Europe/Paris" }));
      } else if (t.type === "webhook") {
        out.push(h("p", { class: "muted", text: "After saving, the address to POST JSON to is shown once. Its keys are {{trigger.<key>}} in templates." }));
      }
      document.getElementById("trigger-editor").replaceChildren(...out);
    }

    function renderHours(t) {
      const own = !t.hours;
      const wrap = h("fieldset", { class: "hours", "data-path": "trigger.hours" }, h("legend", { text: "Business hours" }));
      const useOrg = h("input", { type: "checkbox", checked: own });
      useOrg.addEventListener("change", () => {
        if (useOrg.checked) delete t.hours;
        else t.hours = { days: Object.fromEntries(DAYS.slice(0, 5).map((d) => [d, [["09:00", "17:00"]]])) };
        render();
      });
      wrap.append(h("label", { class: "inline" }, useOrg, " Use the organization's business hours"));
      if (own) return wrap;
      wrap.append(text("Time zone (empty: the organization's)", "trigger.hours.timezone", t.hours, "timezone"));
      for (const day of DAYS) {
        const span = (t.hours.days[day] || [])[0];
        const open = h("input", { type: "checkbox", checked: !!span, "aria-label": `Open on ${day}` });
        const from = h("input", { type: "time", value: span ? span[0] : "09:00", "aria-label": `${day} opens at` });
        const to = h("input", { type: "time", value: span ? span[1] : "17:00", "aria-label": `${day} closes at` });
        const sync = () => { if (open.checked) t.hours.days[day] = [[from.value, to.value]]; else delete t.hours.days[day]; };
        [open, from, to].forEach((el) => el.addEventListener("change", sync));
        wrap.append(h("div", { class: "row day", "data-path": `trigger.hours.days.${day}` },
          h("label", { class: "inline day-name" }, open, ` ${day}`), from, "–", to));
      }
      return wrap;
    }

    // -- conditions: a group of rows, and groups one level down
    function renderGroup(group, path, depth, onRemove) {
      const kind = "any" in group ? "any" : "all";
      const items = group[kind];
      const kindSelect = h("select", {}, options([["all", "all of these"], ["any", "any of these"]], kind));
      kindSelect.addEventListener("change", () => { delete group[kind]; group[kindSelect.value] = items; render(); });
      kindSelect.id = uid("g");
      const head = h("div", { class: "row group-head" }, h("label", { for: kindSelect.id, text: "Match" }), kindSelect,
        onRemove ? h("button", { type: "button", class: "danger", text: "Remove group", onclick: onRemove }) : null);
      const box = h("div", { class: `cond-group depth-${depth}`, "data-path": path }, head, h("div", { class: "node-error", hidden: true }));
      items.forEach((item, i) => {
        const here = `${path}.${kind}[${i}]`;
        const remove = () => { items.splice(i, 1); render(); };
        if (item.all || item.any) box.append(renderGroup(item, here, depth + 1, remove));
        else box.append(renderCondition(item, here, remove));
      });
      const actions = h("div", { class: "row" },
        h("button", { type: "button", text: "Add condition", onclick: () => { items.push({ field: "message.body", op: "contains", value: "" }); render(); } }));
      if (depth < 2) actions.append(h("button", { type: "button", text: "Add group", onclick: () => { items.push({ any: [] }); render(); } }));
      box.append(actions);
      return box;
    }

    function renderCondition(cond, path, remove) {
      const customs = cat.fields.map((f) => `contact.custom.${f.key}`);
      const known = [...Object.keys(FIELDS), ...customs];
      if (!known.includes(cond.field)) known.push(cond.field);
      const ops = FIELDS[cond.field] || (cond.field.startsWith("contact.custom.") ? CUSTOM_OPS : [cond.op]);
      const row = h("div", { class: "cond-row", "data-path": path });
      const fieldSel = select("Field", `${path}.field`, cond, "field", same(known));
      fieldSel.querySelector("select").addEventListener("change", () => {
        const allowed = FIELDS[cond.field] || CUSTOM_OPS;
        if (!allowed.includes(cond.op)) cond.op = allowed[0];
        render();
      });
      const opSel = select("Operator", `${path}.op`, cond, "op", ops.map((o) => [o, OP_LABEL[o] || o]), null, true);
      row.append(fieldSel, opSel);
      if (!["exists", "notExists"].includes(cond.op)) row.append(conditionValue(cond, path));
      row.append(h("button", { type: "button", class: "danger remove", text: "Remove", "aria-label": "Remove this condition", onclick: remove }));
      return h("div", {}, row, h("div", { class: "node-error", hidden: true }));
    }

    function conditionValue(cond, path) {
      const p = `${path}.value`;
      if (BOOL_FIELDS.has(cond.field)) {
        const el = h("select", {}, options([["true", "true"], ["false", "false"]], String(cond.value)));
        if (typeof cond.value !== "boolean") cond.value = true;
        return field("Value", p, cond, "value", el, (c) => c.value === "true");
      }
      if (cond.field.endsWith(".tag")) return select("Tag", p, cond, "value", pairsOf(cat.tags), "Choose a tag");
      if (cond.field === "conversation.assignee") return select("Person", p, cond, "value", pairsOf(cat.users), "Choose a person");
      if (cond.value !== null && typeof cond.value === "object" && !Array.isArray(cond.value)) {
        return field("Value (JSON)", p, cond, "value", h("textarea", { rows: 3, value: JSON.stringify(cond.value) }),
          (c) => { try { return JSON.parse(c.value); } catch (_) { return c.value; } });
      }
      if (["in", "notIn"].includes(cond.op)) {
        return field("Values (comma-separated)", p, cond, "value", h("input", { value: [].concat(cond.value ?? []).join(", ") }),
          (c) => c.value.split(",").map((s) => s.trim()).filter(Boolean));
      }
      if (cond.field === "time.hour" || typeof cond.value === "number") {
        return field("Value", p, cond, "value", h("input", { type: "number", value: cond.value ?? "" }), (c) => Number(c.value));
      }
      return field("Value", p, cond, "value", h("input", { value: cond.value ?? "" }));
    }

    // -- steps
    function renderSteps(list, path, label) {
      const ol = h("ol", { class: "steps", "data-list": path });
      list.forEach((step, i) => ol.append(renderStep(list, i, `${path}[${i}]`, label)));
      if (!list.length) ol.append(h("li", { class: "empty-steps muted", text: "No steps yet." }));
      const typeSel = h("select", { id: uid("add") }, options(STEP_TYPES, "send_message"));
      const add = h("div", { class: "row add-step" }, h("label", { for: typeSel.id, text: `Add a step${label ? ` (${label})` : ""}` }), typeSel,
        h("button", { type: "button", text: "Add step", onclick: () => {
          list.push({ type: typeSel.value, ...newStep(typeSel.value, cat) });
          render();
          focusPath(`${path}[${list.length - 1}]`, "input, textarea, select");
        } }));
      return h("div", { class: "step-list" }, ol, add);
    }

    function move(list, i, by, path, dir) {
      const [step] = list.splice(i, 1);
      list.splice(i + by, 0, step);
      render();
      const target = `${path}[${i + by}]`;
      focusPath(target, `[data-move="${dir}"]:not([disabled])`) || focusPath(target, "[data-move]:not([disabled])");
    }

    function focusPath(path, selector) {
      const card = form.querySelector(`.step-card[data-path="${CSS.escape(path)}"]`);
      const el = card && card.querySelector(selector);
      if (el) el.focus();
      return !!el;
    }

    function renderStep(list, i, path, label) {
      const step = list[i];
      const listPath = path.slice(0, path.lastIndexOf("["));
      const name = `${label ? `${label} step` : "Step"} ${i + 1}`;
      const title = `${name}: ${STEP_LABEL[step.type] || step.type}`;
      const tools = h("div", { class: "step-tools" },
        h("button", { type: "button", "data-move": "up", "aria-label": `Move ${name} up`, disabled: i === 0, text: "↑ Up", onclick: () => move(list, i, -1, listPath, "up") }),
        h("button", { type: "button", "data-move": "down", "aria-label": `Move ${name} down`, disabled: i === list.length - 1, text: "↓ Down", onclick: () => move(list, i, 1, listPath, "down") }),
        h("button", { type: "button", class: "danger", "aria-label": `Delete ${name}`, text: "Delete", onclick: () => { list.splice(i, 1); render(); } }));
      const card = h("li", { class: `step-card step-${step.type}`, "data-path": path },
        h("div", { class: "step-head" }, h("h3", { text: title }), tools),
        h("div", { class: "node-error", role: "alert", hidden: true }));
      card.append(...stepFields(step, path));
      return card;
    }

    function stepFields(step, path) {
      const f = (k) => `${path}.${k}`;
      switch (step.type) {
        case "send_message": case "add_note": {
          const area = text(step.type === "add_note" ? "Note" : "Message", f("text"), step, "text", { rows: 3, maxlength: 4096 });
          const ta = area.querySelector("textarea");
          const chips = h("div", { class: "row vars" }, h("span", { class: "muted", text: "Insert:" }),
            variables(state.trigger.type).map((v) => h("button", { type: "button", class: "chip", text: `{{${v}}}`, "aria-label": `Insert ${v}`, onclick: () => {
              const at = ta.selectionStart ?? ta.value.length;
              ta.setRangeText(`{{${v}}}`, at, ta.selectionEnd ?? at, "end");
              ta.dispatchEvent(new Event("input"));
              ta.focus();
            } })));
          return [area, chips];
        }
        case "ai_reply":
          return [text("Instructions for the AI (optional)", f("systemPrompt"), step, "systemPrompt", { rows: 3 }),
            check("Use the knowledge base", f("useKnowledge"), step, "useKnowledge"),
            check("Answer only from the knowledge base", f("knowledgeOnly"), step, "knowledgeOnly")];
        case "assign": {
          const how = h("select", {}, options([["user", "A chosen person"], ["round_robin", "Round robin"], ["least_busy", "The least busy"]],
            step.userId !== undefined ? "user" : step.strategy));
          how.addEventListener("change", () => {
            for (const k of ["userId", "strategy", "userIds"]) delete step[k];
            if (how.value === "user") step.userId = cat.users[0] ? cat.users[0].id : ""; else step.strategy = how.value;
            render();
          });
          const out = [field("Assign to", f("strategy"), {}, "_", how)];
          if (step.userId !== undefined) out.push(select("Person", f("userId"), step, "userId", pairsOf(cat.users)));
          else {
            const picked = h("select", { multiple: true, size: Math.min(5, Math.max(2, cat.users.length)) },
              cat.users.map((u) => h("option", { value: u.id, text: u.name, selected: (step.userIds || []).includes(u.id) })));
            out.push(field("Only among (optional)", f("userIds"), step, "userIds", picked,
              (c) => { const ids = [...c.selectedOptions].map((o) => o.value); return ids.length ? ids : undefined; }));
          }
          return out;
        }
        case "add_tag": case "remove_tag":
          return [select("Tag", f("tagId"), step, "tagId", pairsOf(cat.tags), cat.tags.length ? null : "No tags yet: create one first"),
            select("On the", f("on"), step, "on", [["conversation", "conversation"], ["contact", "contact"]])];
        case "set_field": {
          const def = cat.fields.find((x) => x.key === step.key);
          const read = (c) => (def && def.type === "NUMBER" && c.value !== "" ? Number(c.value) : c.value === "" ? null : c.value);
          return [select("Custom field", f("key"), step, "key", pairsOf(cat.fields, "key", "name"), cat.fields.length ? null : "No custom fields yet", true),
            field("Value (empty clears it)", f("value"), step, "value", h("input", { value: step.value ?? "" }), read)];
        }
        case "set_priority": return [select("Priority", f("priority"), step, "priority", same(cat.priorities))];
        case "set_status": return [select("Status", f("status"), step, "status", same(cat.statuses))];
        case "call_webhook":
          return [text("URL", f("url"), step, "url", { type: "url", placeholder: "https://example.com/hook" }),
            text("Signing secret (16–200 characters; empty: generated)", f("secret"), step, "secret", { autocomplete: "off" })];
        case "wait": {
          const unit = (WAIT_UNITS.find(([u]) => step[u] !== undefined) || ["minutes"])[0];
          const amount = h("input", { type: "number", min: 1, value: step[unit] ?? 1 });
          const unitSel = h("select", {}, options(WAIT_UNITS.map(([u]) => [u, u]), unit));
          const sync = () => { WAIT_UNITS.forEach(([u]) => delete step[u]); step[unitSel.value] = Number(amount.value); };
          unitSel.addEventListener("change", sync);
          return [h("div", { class: "row" }, field("Wait for", path, {}, "_", amount, () => { sync(); return undefined; }),
            field("Unit", f("unit"), {}, "_", unitSel, () => undefined))];
        }
        case "if":
          return [h("div", { class: "branch" }, h("h4", { text: "If" }), renderGroup(step.conditions, f("conditions"), 1, null)),
            h("div", { class: "branch" }, h("h4", { text: "Then" }), renderSteps(step.then, f("then"), "Then")),
            h("div", { class: "branch" }, h("h4", { text: "Else" }), renderSteps(step.else, f("else"), "Else"))];
        case "stop": return [h("p", { class: "muted", text: "The run ends here." })];
        default: return [h("p", { class: "muted", text: "Edit this step in the JSON editor below." })];
      }
    }

    function render() {
      renderTrigger();
      document.getElementById("conditions-editor").replaceChildren(renderGroup(state.conditions, "conditions", 1, null));
      document.getElementById("steps-editor").replaceChildren(renderSteps(state.actions, "actions", ""));
    }

    // -- errors from the API, placed where they belong
    // "actions[1].then[0].text" in words: "Step 2 (If / else branch) › Then step 1 (Send a message), text".
    function describe(path) {
      const parts = [];
      let list = state.actions;
      const re = /(actions|then|else)\[(\d+)\]/g;
      let m;
      while ((m = re.exec(path))) {
        const step = list ? list[Number(m[2])] : null;
        const word = m[1] === "actions" ? "Step" : `${m[1] === "then" ? "Then" : "Else"} step`;
        parts.push(`${word} ${Number(m[2]) + 1}${step ? ` (${STEP_LABEL[step.type] || step.type})` : ""}`);
        const next = path.slice(re.lastIndex).match(/^\.(then|else)\[/);
        list = step && next ? step[next[1]] : null;
      }
      if (!parts.length) return path.replace(/\./g, " › ");
      const rest = path.replace(/^.*\]\.?/, "");
      return parts.join(" › ") + (rest ? `, ${rest}` : "");
    }

    function clearErrors() {
      wacc.clearErrors(form);
      form.querySelectorAll(".node-error").forEach((el) => { el.hidden = true; el.textContent = ""; });
      form.querySelectorAll(".step-card.invalid").forEach((el) => el.classList.remove("invalid"));
    }

    function place(detail) {
      let path = detail.field || "";
      const exact = path && form.querySelector(`[data-path="${CSS.escape(path)}"]:is(input, select, textarea)`);
      if (exact) {
        const note = h("span", { class: "field-error", id: uid("err"), text: detail.message });
        exact.setAttribute("aria-invalid", "true");
        exact.setAttribute("aria-describedby", note.id);
        (exact.closest("label.inline") || exact).insertAdjacentElement("afterend", note);
        exact.closest(".step-card")?.classList.add("invalid");
        return;
      }
      while (path) {
        const node = form.querySelector(`[data-path="${CSS.escape(path)}"]:not(input, select, textarea)`);
        const after = node && node.nextElementSibling;
        const box = node && (node.querySelector(":scope > .node-error")
          || (after && after.classList.contains("node-error") ? after : null));
        if (box) {
          const where = detail.field === path ? "" : `${detail.field.slice(path.length).replace(/^\./, "")}: `;
          box.hidden = false;
          box.append(h("div", { text: where + detail.message }));
          node.closest(".step-card")?.classList.add("invalid");
          return;
        }
        const shorter = path.replace(/(\.[^.[\]]+|\[\d+\])$/, "");
        if (shorter === path) break;
        path = shorter;
      }
    }

    function showErrors(error) {
      clearErrors();
      const box = form.querySelector(".form-error");
      box.textContent = error.message;
      if (error.details && error.details.length) {
        box.append(h("ul", {}, error.details.map((d) => h("li", { text: d.field ? `${describe(d.field)}: ${d.message}` : d.message }))));
      }
      box.hidden = false;
      (error.details || []).forEach(place);
      box.focus();
    }

    function definition() {
      return { trigger: state.trigger, conditions: state.conditions, actions: state.actions };
    }

    async function save() {
      clearErrors();
      const status = document.getElementById("save-status");
      const button = document.getElementById("save-automation");
      const body = { name: form.elements.name.value, description: form.elements.description.value,
        enabled: form.elements.enabled.checked, ...definition() };
      button.disabled = true;
      status.textContent = "Saving…";
      try {
        const out = state.id ? await wacc.api("PATCH", `${API}/${encodeURIComponent(state.id)}`, body)
          : await wacc.api("POST", API, body);
        state = { ...out, actions: normaliseSteps(out.actions), conditions: out.conditions || { all: [] } };
        history.replaceState(null, "", `/automations/${out.id}`);
        document.getElementById("builder-title").textContent = out.name;
        const link = document.getElementById("executions-link");
        link.href = `/automations/${out.id}/executions`;
        link.hidden = false;
        if (out.webhookUrl) {
          const notice = document.getElementById("webhook-notice");
          notice.replaceChildren("POST JSON to this address to start the automation (shown once, keep it secret): ",
            h("code", { text: out.webhookUrl }));
          notice.hidden = false;
        }
        render();
        status.textContent = `Saved (version ${out.version}).`;
        wacc.toast("Automation saved.");
      } catch (error) {
        status.textContent = "Not saved.";
        showErrors(error);
      } finally { button.disabled = false; }
    }

    form.addEventListener("submit", (event) => { event.preventDefault(); save(); });

    const advanced = document.getElementById("advanced");
    const json = document.getElementById("definition-json");
    advanced.addEventListener("toggle", () => { if (advanced.open) json.value = JSON.stringify(definition(), null, 2); });
    document.getElementById("apply-json").addEventListener("click", () => {
      try {
        const parsed = JSON.parse(json.value);
        if (!parsed || typeof parsed.trigger !== "object" || !Array.isArray(parsed.actions)) throw new Error("needs trigger and actions");
        state.trigger = parsed.trigger;
        state.conditions = parsed.conditions || { all: [] };
        state.actions = normaliseSteps(parsed.actions);
        clearErrors();
        render();
        wacc.toast("JSON applied. Save to keep it.");
      } catch (e) {
        showErrors({ message: "The JSON could not be used.", details: [{ field: "", message: `It must be an object with "trigger" and "actions" (${e.message}).` }] });
      }
    });

    initDryRun(definition, showErrors, { tagName, userName });
    render();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const form = document.getElementById("automation-form");
    if (form) initBuilder(form);
  });
})();
