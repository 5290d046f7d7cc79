// The wfm-bridge console: plain JavaScript over the admin API (/api/v1). Every value from the
// server goes into the page as text (textContent, never HTML). The admin token lives in this tab's
// sessionStorage and is sent as a bearer token.
"use strict";

const $ = (id) => document.getElementById(id);
const SECRET = "********";
const state = { me: null, tenant: null, types: [], accounts: [], editing: null, page: null, timer: null };

function notice(text, ok) {
  const n = $("notice");
  n.textContent = text || "";
  n.className = ok ? "ok" : "";
}

async function api(method, path, body) {
  const headers = { Authorization: "Bearer " + sessionStorage.getItem("wfm-token") };
  const init = { method, headers };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch("/api/v1" + path, init);
  if (response.status === 401) {
    logout("The token was refused; log in again.");
    throw new Error("unauthorized");
  }
  const data = response.status === 204 ? null : await response.json();
  if (!response.ok) throw new Error((data && data.error) || response.statusText);
  return data;
}

function cell(row, text, cls) {
  const td = document.createElement("td");
  td.textContent = text === null || text === undefined ? "" : String(text);
  if (cls) td.className = cls;
  row.appendChild(td);
  return td;
}

function button(label, onclick, cls) {
  const b = document.createElement("button");
  b.textContent = label;
  b.type = "button";
  if (cls) b.className = cls;
  b.addEventListener("click", onclick);
  return b;
}

function time(ms) {
  return ms ? new Date(ms).toLocaleString() : "";
}

function canChange() {
  return state.me && state.me.role === "admin";
}

// ---- session -------------------------------------------------------------------------------

async function login(event) {
  if (event) event.preventDefault();
  const token = $("token").value.trim() || sessionStorage.getItem("wfm-token");
  if (!token) return;
  sessionStorage.setItem("wfm-token", token);
  try {
    state.me = await api("GET", "/me");
  } catch (e) {
    if (e.message !== "unauthorized") notice(e.message);
    return;
  }
  $("token").value = "";
  $("who").textContent = state.me.name + " (" + state.me.role + ")";
  const tenants = await api("GET", "/tenants");
  const select = $("tenant");
  select.replaceChildren();
  for (const t of tenants) select.appendChild(new Option(t.name + " (" + t.id + ")", t.id));
  state.tenant = tenants.length ? tenants[0].id : null;
  state.tenants = tenants;
  state.types = await api("GET", "/account-types");
  $("login-page").hidden = true;
  $("nav").hidden = false;
  $("session").hidden = false;
  for (const el of document.querySelectorAll(".change")) el.hidden = !canChange();
  notice("");
  show("accounts");
}

function logout(message) {
  sessionStorage.removeItem("wfm-token");
  state.me = null;
  clearInterval(state.timer);
  for (const p of document.querySelectorAll(".page")) p.hidden = true;
  $("login-page").hidden = false;
  $("nav").hidden = true;
  $("session").hidden = true;
  notice(message || "");
}

async function show(page) {
  state.page = page;
  clearInterval(state.timer);
  for (const p of document.querySelectorAll(".page")) p.hidden = p.id !== page + "-page";
  for (const t of document.querySelectorAll("nav .tab")) t.classList.toggle("active", t.dataset.page === page);
  try {
    await PAGES[page]();
  } catch (e) {
    if (e.message !== "unauthorized") notice(e.message);
  }
}

// ---- accounts ------------------------------------------------------------------------------

async function accountsPage() {
  state.accounts = await api("GET", "/accounts");
  const body = $("accounts").tBodies[0];
  body.replaceChildren();
  for (const a of state.accounts) {
    const row = body.insertRow();
    row.dataset.name = a.name;
    cell(row, a.name);
    cell(row, a.type);
    cell(row, a.tenant || "—");
    cell(row, a.read_only ? "wfm-bridge.toml (read-only)" : "console / API");
    row.addEventListener("click", () => editAccount(a));
    if (state.editing && state.editing.name === a.name) row.classList.add("selected");
  }
  const typeSelect = $("account-type");
  if (!typeSelect.options.length) {
    for (const t of state.types) typeSelect.appendChild(new Option(t.name + " — " + t.description, t.name));
  }
  const tenantSelect = $("account-tenant");
  tenantSelect.replaceChildren(new Option("(none)", ""));
  for (const t of state.tenants) tenantSelect.appendChild(new Option(t.id, t.id));
}

function typeOf(name) {
  return state.types.find((t) => t.name === name);
}

function propertySheet(type, values, readOnly) {
  const box = $("account-properties");
  box.replaceChildren();
  $("account-type-help").textContent = type.description + (type.single_per_tenant ? " (one per tenant)" : "");
  for (const p of type.properties) {
    const label = document.createElement("label");
    const name = document.createElement("span");
    name.className = "name";
    name.textContent = p.name + (p.required ? " *" : "");
    label.appendChild(name);
    let input;
    const value = values ? values[p.name] : undefined;
    if (p.kind === "bool") {
      input = document.createElement("input");
      input.type = "checkbox";
      input.checked = value === undefined ? p.default === "true" : value === true;
    } else if (p.kind === "map") {
      input = document.createElement("textarea");
      input.rows = 2;
      input.placeholder = "key=value per line";
      input.value = value ? Object.entries(value).map(([k, v]) => k + "=" + v).join("\n") : "";
    } else {
      input = document.createElement("input");
      input.type = p.secret ? "password" : p.kind === "integer" ? "number" : "text";
      input.autocomplete = "off";
      if (p.secret) input.placeholder = value ? "(stored; leave empty to keep)" : "secret";
      else input.value = value === undefined || value === null ? "" : String(value);
      if (!p.secret && p.default !== null) input.placeholder = p.default;
    }
    input.name = p.name;
    input.dataset.kind = p.kind;
    input.dataset.secret = p.secret ? "1" : "";
    input.disabled = readOnly;
    label.appendChild(input);
    const help = document.createElement("div");
    help.className = "help";
    help.textContent = p.help;
    label.appendChild(help);
    box.appendChild(label);
  }
}

function newAccount() {
  state.editing = null;
  $("account-editor").hidden = false;
  $("account-title").textContent = "New account";
  $("account-type").disabled = false;
  $("account-name").disabled = false;
  $("account-name").value = "";
  $("account-tenant").disabled = false;
  $("account-tenant").value = state.tenant || "";
  $("delete-account").hidden = true;
  $("test-account").disabled = true;
  $("save-account").hidden = !canChange();
  $("verdict").textContent = "";
  propertySheet(typeOf($("account-type").value), null, false);
}

function editAccount(a) {
  state.editing = a;
  for (const r of $("accounts").tBodies[0].rows) r.classList.toggle("selected", r.dataset.name === a.name);
  $("account-editor").hidden = false;
  $("account-title").textContent = a.name + (a.read_only ? " (defined in wfm-bridge.toml: edit the file to change it)" : "");
  $("account-type").value = a.type;
  $("account-type").disabled = true;
  $("account-name").value = a.name;
  $("account-name").disabled = true;
  $("account-tenant").value = a.tenant || "";
  $("account-tenant").disabled = a.read_only;
  $("save-account").hidden = a.read_only || !canChange();
  $("delete-account").hidden = a.read_only || !canChange();
  $("test-account").disabled = false;
  $("verdict").textContent = "";
  propertySheet(typeOf(a.type), a.properties, a.read_only);
}

function readProperties() {
  const properties = {};
  for (const input of $("account-properties").querySelectorAll("input, textarea")) {
    const kind = input.dataset.kind;
    if (kind === "bool") {
      properties[input.name] = input.checked;
    } else if (kind === "map") {
      const map = {};
      for (const line of input.value.split("\n")) {
        const i = line.indexOf("=");
        if (i > 0) map[line.slice(0, i).trim()] = line.slice(i + 1).trim();
      }
      properties[input.name] = map;
    } else if (input.value !== "") {
      properties[input.name] = kind === "integer" ? Number(input.value) : input.value;
    } else if (input.dataset.secret && state.editing) {
      properties[input.name] = SECRET; // keep the stored secret
    }
  }
  return properties;
}

async function saveAccount(event) {
  event.preventDefault();
  const doc = {
    name: $("account-name").value.trim(),
    type: $("account-type").value,
    tenant: $("account-tenant").value || null,
    properties: readProperties(),
  };
  try {
    const saved = state.editing
      ? await api("PUT", "/accounts/" + encodeURIComponent(state.editing.name), doc)
      : await api("POST", "/accounts", doc);
    notice("Saved account " + saved.name + ".", true);
    await accountsPage();
    editAccount(saved);
  } catch (e) {
    if (e.message !== "unauthorized") notice(e.message);
  }
}

async function testAccount() {
  if (!state.editing) return;
  const verdict = $("verdict");
  verdict.className = "";
  verdict.textContent = "Testing…";
  try {
    const v = await api("POST", "/accounts/" + encodeURIComponent(state.editing.name) + "/test");
    verdict.className = v.ok ? "ok" : "failed";
    verdict.textContent = (v.ok ? "✔ " : "✘ ") + v.message;
  } catch (e) {
    verdict.className = "failed";
    verdict.textContent = e.message;
  }
}

async function deleteAccount() {
  if (!state.editing || !confirm("Delete account " + state.editing.name + "?")) return;
  try {
    await api("DELETE", "/accounts/" + encodeURIComponent(state.editing.name));
    notice("Deleted account " + state.editing.name + ".", true);
    state.editing = null;
    $("account-editor").hidden = true;
    await accountsPage();
  } catch (e) {
    notice(e.message);
  }
}

// ---- flows and runs ------------------------------------------------------------------------

async function flowsPage(selected) {
  const flows = await api("GET", "/flows");
  const body = $("flows").tBodies[0];
  body.replaceChildren();
  for (const f of flows) {
    const row = body.insertRow();
    row.dataset.name = f.name;
    cell(row, f.name);
    cell(row, f.kind);
    cell(row, f.tenant);
    cell(row, (f.source || "store") + " → " + (f.target || "store"));
    cell(row, f.enabled ? "yes" : "no");
    const last = f.last_run;
    cell(row, last ? last.status + " " + time(last.started_at) + (last.error ? ": " + last.error : "") : "never",
      last ? "status-" + last.status : "");
    const actions = cell(row, "");
    actions.appendChild(button("Runs", () => runs(f.name)));
    if (canChange()) {
      actions.appendChild(button("Run now", () => runNow(f.name), "run-now"));
      if (!f.read_only) {
        actions.appendChild(button(f.enabled ? "Disable" : "Enable", () => toggle(f)));
      }
    }
  }
  await runs(selected || null);
}

async function runs(flow) {
  $("runs-flow").textContent = flow ? "of " + flow : "of every flow";
  const list = await api("GET", "/runs?limit=20" + (flow ? "&flow=" + encodeURIComponent(flow) : ""));
  const body = $("runs").tBodies[0];
  body.replaceChildren();
  for (const r of list) {
    const row = body.insertRow();
    row.dataset.flow = r.flow;
    cell(row, r.id);
    cell(row, r.flow);
    cell(row, time(r.started_at));
    cell(row, r.status, "status-" + r.status);
    cell(row, r.read);
    cell(row, r.sent);
    cell(row, r.rejected);
    cell(row, r.error);
  }
}

async function runNow(name) {
  notice("Running " + name + "…", true);
  try {
    const r = await api("POST", "/flows/" + encodeURIComponent(name) + "/run");
    notice("Run " + r.run + " of " + name + ": read " + r.read + ", sent " + r.sent +
      (r.error ? ", failed: " + r.error : ""), !r.error);
  } catch (e) {
    notice(e.message);
  }
  await flowsPage(name);
}

async function toggle(f) {
  try {
    await api("POST", "/flows/" + encodeURIComponent(f.name) + (f.enabled ? "/disable" : "/enable"));
  } catch (e) {
    notice(e.message);
  }
  await flowsPage(f.name);
}

// ---- dead letters --------------------------------------------------------------------------

async function deadPage() {
  const list = await api("GET", "/outbox?status=dead&limit=200");
  const body = $("dead").tBodies[0];
  body.replaceChildren();
  if (!list.length) {
    const row = body.insertRow();
    cell(row, "No dead letters.").colSpan = 6;
  }
  for (const m of list) {
    const row = body.insertRow();
    row.dataset.id = m.id;
    cell(row, m.id);
    cell(row, m.flow);
    cell(row, m.name);
    cell(row, m.attempts);
    cell(row, m.last_error);
    const actions = cell(row, "");
    if (canChange()) {
      actions.appendChild(button("Retry", () => dead(m.id, "retry"), "retry"));
      actions.appendChild(button("Discard", () => dead(m.id, "discard"), "discard danger"));
    }
  }
}

async function dead(id, action) {
  try {
    await api("POST", "/outbox/" + id + "/" + action);
    notice("Message " + id + (action === "retry" ? " will be sent again." : " was discarded."), true);
  } catch (e) {
    notice(e.message);
  }
  await deadPage();
}

// ---- live agent board ----------------------------------------------------------------------

async function agentsPage() {
  await board();
  state.timer = setInterval(() => board().catch((e) => notice(e.message)), 3000);
}

async function board() {
  if (!state.tenant) return;
  const list = await api("GET", "/tenants/" + encodeURIComponent(state.tenant) + "/agent-states");
  const body = $("board").tBodies[0];
  body.replaceChildren();
  const counts = {};
  for (const a of list) {
    counts[a.state] = (counts[a.state] || 0) + 1;
    const row = body.insertRow();
    row.className = "agent";
    row.dataset.agent = a.agent;
    cell(row, a.agent);
    cell(row, a.state.replace("_", " "), "state state-" + a.state);
    cell(row, a.reason);
    cell(row, new Date(a.since).toLocaleTimeString());
  }
  $("board-summary").textContent = Object.entries(counts).map(([s, n]) => s.replace("_", " ") + ": " + n).join(" · ") ||
    "No agent states yet.";
  $("board-updated").textContent = "updated " + new Date().toLocaleTimeString();
}

// ---- interval statistics -------------------------------------------------------------------

async function statsPage() {
  const queues = await api("GET", "/tenants/" + encodeURIComponent(state.tenant) + "/queues");
  const select = $("queue");
  select.replaceChildren();
  for (const q of queues) select.appendChild(new Option(q.name + " (" + q.queue + ")", q.queue));
  if (!$("stats-date").value) $("stats-date").value = new Date().toISOString().slice(0, 10);
  if (queues.length) await chart();
  else $("chart").textContent = "No queues in this tenant yet.";
}

async function chart(event) {
  if (event) event.preventDefault();
  const queue = $("queue").value;
  const date = $("stats-date").value;
  if (!queue || !date) return;
  // Only the answers to the latest request are drawn (an earlier, slower one must not win).
  const ticket = (state.chartTicket = (state.chartTicket || 0) + 1);
  const data = await api("GET", "/tenants/" + encodeURIComponent(state.tenant) + "/queues/" +
    encodeURIComponent(queue) + "/statistics?from=" + date + "&to=" + date);
  if (ticket !== state.chartTicket) return;
  drawChart(data);
  await forecastChart(queue, date, ticket);
}

// ---- forecast vs actual --------------------------------------------------------------------

async function forecastChart(queue, date, ticket) {
  const box = $("forecast-chart");
  box.replaceChildren();
  let data;
  try {
    data = await api("GET", "/tenants/" + encodeURIComponent(state.tenant) + "/queues/" +
      encodeURIComponent(queue) + "/forecast?from=" + date + "&days=7");
  } catch (e) {
    if (e.message === "unauthorized") throw e;
    if (ticket === state.chartTicket) box.textContent = "No forecast: " + e.message;
    return;
  }
  if (ticket === state.chartTicket) drawForecast(box, data);
}

// Forecast contacts per interval as a line, actual offered contacts (intervals that ended) as a
// second line.
function drawForecast(box, data) {
  const points = data.intervals;
  const W = 900, H = 260, left = 40, bottom = 40, top = 20;
  const root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "forecast-svg" });
  const values = points.flatMap((p) => [p.forecast_contacts, p.actual_contacts || 0]);
  const max = Math.max(1, ...values);
  const n = Math.max(1, points.length);
  const step = (W - left - 10) / n;
  const y = (v) => H - bottom - (v / max) * (H - bottom - top);
  root.appendChild(svg("line", { x1: left, y1: H - bottom, x2: W - 10, y2: H - bottom, stroke: "#888" }));
  root.appendChild(svg("text", { x: 4, y: top + 4, "font-size": 11 }, max.toFixed(0)));
  root.appendChild(svg("text", { x: 4, y: H - bottom, "font-size": 11 }, "0"));
  let forecast = "", actual = "";
  let day = "";
  points.forEach((p, i) => {
    const x = left + i * step + step / 2;
    forecast += (forecast ? " L " : "M ") + x.toFixed(1) + " " + y(p.forecast_contacts).toFixed(1);
    if (p.actual_contacts !== null) actual += (actual ? " L " : "M ") + x.toFixed(1) + " " + y(p.actual_contacts).toFixed(1);
    const d = p.start.slice(0, 10);
    if (d !== day) {
      day = d;
      root.appendChild(svg("text", { x: left + i * step, y: H - bottom + 14, "font-size": 10 }, d));
    }
  });
  if (forecast) root.appendChild(svg("path", { d: forecast, fill: "none", stroke: "#7a5cc4", "stroke-width": 1.5, class: "series-forecast" }));
  if (actual) root.appendChild(svg("path", { d: actual, fill: "none", stroke: "#3f8f4f", "stroke-width": 1.5, class: "series-actual" }));
  root.appendChild(svg("text", { x: left, y: H - 6, "font-size": 11 },
    "forecast (purple, method " + data.method + ") · actual offered (green) · " + data.queue + " from " + data.from +
    " · " + data.interval_minutes + "-minute intervals"));
  box.appendChild(root);
  if (!points.length) box.appendChild(document.createTextNode("Nothing to forecast for these days."));
}

// ---- directory change log ------------------------------------------------------------------

async function directoryPage() {
  const entries = await api("GET", "/tenants/" + encodeURIComponent(state.tenant) + "/directory/log?limit=200");
  const body = $("directory-log").tBodies[0];
  body.replaceChildren();
  for (const e of entries) {
    const row = body.insertRow();
    row.className = "directory-entry";
    cell(row, e.id);
    cell(row, time(e.at));
    cell(row, e.flow);
    cell(row, e.source);
    cell(row, e.change);
    cell(row, e.subject);
    cell(row, e.before, "json");
    cell(row, e.after, "json");
    cell(row, e.action);
    cell(row, e.person_id);
  }
  if (!entries.length) {
    const row = body.insertRow();
    cell(row, "No directory changes yet.").colSpan = 10;
  }
}

const SVG = "http://www.w3.org/2000/svg";

function svg(tag, attrs, text) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, v);
  if (text !== undefined) el.textContent = text;
  return el;
}

// Offered, answered and abandoned contacts per interval as bars, service level as a line.
function drawChart(data) {
  const box = $("chart");
  box.replaceChildren();
  const rows = data.rows;
  const W = 900, H = 300, left = 40, bottom = 40, top = 20;
  const root = svg("svg", { width: W, height: H, viewBox: "0 0 " + W + " " + H, id: "stats-svg" });
  const offered = rows.map((r) => r.offd_direct_call_cnt + r.overflow_in_call_cnt);
  const max = Math.max(1, ...offered);
  const n = Math.max(1, rows.length);
  const step = (W - left - 10) / n;
  const y = (v) => H - bottom - (v / max) * (H - bottom - top);
  root.appendChild(svg("line", { x1: left, y1: H - bottom, x2: W - 10, y2: H - bottom, stroke: "#888" }));
  root.appendChild(svg("text", { x: 4, y: top + 4, "font-size": 11 }, String(max)));
  root.appendChild(svg("text", { x: 4, y: H - bottom, "font-size": 11 }, "0"));
  let line = "";
  rows.forEach((r, i) => {
    const x = left + i * step;
    const bar = (value, dx, color, label) => {
      const rect = svg("rect", { x: x + dx, y: y(value), width: Math.max(1, step / 3 - 1), height: H - bottom - y(value), fill: color, class: "bar" });
      rect.appendChild(svg("title", {}, r.time + " " + label + ": " + value));
      root.appendChild(rect);
    };
    bar(offered[i], 0, "#7aa6d8", "offered");
    bar(r.answ_call_cnt, step / 3, "#3f8f4f", "answered");
    bar(r.aband_call_cnt, (2 * step) / 3, "#c44", "abandoned");
    const sl = r.answ_call_cnt ? r.ans_servicelevel_cnt / r.answ_call_cnt : null;
    if (sl !== null) line += (line ? " L " : "M ") + (x + step / 2) + " " + (top + (1 - sl) * (H - bottom - top));
    if (i % Math.ceil(n / 12) === 0) root.appendChild(svg("text", { x: x, y: H - bottom + 14, "font-size": 10 }, r.time));
  });
  if (line) root.appendChild(svg("path", { d: line, fill: "none", stroke: "#e0a000", "stroke-width": 2 }));
  root.appendChild(svg("text", { x: left, y: H - 6, "font-size": 11 },
    "bars: offered (blue), answered (green), abandoned (red) · line: service level (0–100 %) · " + data.queue + " " + data.from));
  box.appendChild(root);
  if (!rows.length) box.appendChild(document.createTextNode("No contacts on this date."));
}

// ---- wiring --------------------------------------------------------------------------------

const PAGES = { accounts: accountsPage, flows: () => flowsPage(null), dead: deadPage, agents: agentsPage, stats: statsPage, directory: directoryPage };

document.addEventListener("DOMContentLoaded", () => {
  $("login-form").addEventListener("submit", login);
  $("logout").addEventListener("click", () => logout("Logged out."));
  for (const t of document.querySelectorAll("nav .tab")) t.addEventListener("click", () => show(t.dataset.page));
  $("tenant").addEventListener("change", () => {
    state.tenant = $("tenant").value;
    show(state.page);
  });
  $("new-account").addEventListener("click", newAccount);
  $("account-type").addEventListener("change", () => propertySheet(typeOf($("account-type").value), null, false));
  $("account-form").addEventListener("submit", saveAccount);
  $("test-account").addEventListener("click", testAccount);
  $("delete-account").addEventListener("click", deleteAccount);
  $("stats-form").addEventListener("submit", (e) => chart(e).catch((err) => notice(err.message)));
  if (sessionStorage.getItem("wfm-token")) login();
});
