// Intently dashboard: a small single-page app, no framework and no build step.
// Pages: overview, live feed, customer, segments, clusters & paths, scenarios, admin.

const view = document.getElementById("view");
const statusEl = document.getElementById("status");
let cleanup = [];  // what the current page must stop when leaving (streams, timers)

// -- helpers
const esc = (v) => String(v ?? "").replace(/[&<>"']/g, (c) => (
  { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
const pct = (p) => `${Math.round((p || 0) * 100)}%`;
const num = (n) => Number(n || 0).toLocaleString("en-US", { maximumFractionDigits: 0 });
const money = (n) => Number(n || 0).toLocaleString("en-US", { maximumFractionDigits: 0 });
const pad = (n) => String(n).padStart(2, "0");
function hm(ts) { const d = new Date(ts * 1000); return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`; }
function when(ts) {
  if (!ts) return "";
  const d = new Date(ts * 1000);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${hm(ts)}`;
}
const enc = encodeURIComponent;

async function api(path, options = {}) {
  const r = await fetch(path, { credentials: "same-origin", ...options });
  if (r.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  const body = r.headers.get("content-type")?.includes("json") ? await r.json() : await r.text();
  if (!r.ok) { const e = new Error(body.message || r.statusText); e.body = body; e.status = r.status; throw e; }
  return body;
}

function probBar(p) {
  const cls = p >= 0.6 ? "hi" : p >= 0.3 ? "mid" : "";
  return `<div class="prob"><b>${pct(p)}</b><div class="bar ${cls}"><i style="width:${pct(p)}"></i></div></div>`;
}

function sparkline(points, w = 110, h = 28) {
  if (!points || points.length < 2) return `<svg width="${w}" height="${h}"></svg>`;
  const xs = points.map((_, i) => (i / (points.length - 1)) * (w - 4) + 2);
  const ys = points.map((p) => h - 3 - p.intent * (h - 6));
  const d = xs.map((x, i) => `${i ? "L" : "M"}${x.toFixed(1)},${ys[i].toFixed(1)}`).join("");
  const last = points[points.length - 1].intent;
  const color = last >= 0.6 ? "#12875a" : last >= 0.3 ? "#b7791f" : "#4f46e5";
  return `<svg width="${w}" height="${h}" role="img" aria-label="probability trajectory">
    <path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"/>
    <circle cx="${xs[xs.length - 1]}" cy="${ys[ys.length - 1]}" r="2.6" fill="${color}"/></svg>`;
}

function lineChart(points, { w = 640, h = 200, y = "v", x = "t", max = null, marks = [], fmt = (v) => v, xfmt = when } = {}) {
  if (!points.length) return `<div class="empty">No data yet.</div>`;
  const L = 40, R = 10, T = 10, B = 24;
  const xs = points.map((p) => p[x]); const ys = points.map((p) => p[y]);
  const x0 = Math.min(...xs), x1 = Math.max(...xs) || x0 + 1;
  const top = max ?? Math.max(...ys, 1e-9);
  const X = (v) => L + ((v - x0) / (x1 - x0 || 1)) * (w - L - R);
  const Y = (v) => T + (1 - v / top) * (h - T - B);
  const d = points.map((p, i) => `${i ? "L" : "M"}${X(p[x]).toFixed(1)},${Y(p[y]).toFixed(1)}`).join("");
  const ticks = [0, 0.5, 1].map((f) => `<line x1="${L}" x2="${w - R}" y1="${Y(top * f)}" y2="${Y(top * f)}" stroke="#eceef4"/>
    <text x="${L - 6}" y="${Y(top * f) + 4}" text-anchor="end">${esc(fmt(top * f))}</text>`).join("");
  const dots = points.map((p) => `<circle cx="${X(p[x])}" cy="${Y(p[y])}" r="${marks.includes(p) ? 5 : 2.5}"
    fill="${marks.includes(p) ? "#f59e0b" : "#4f46e5"}"><title>${esc(p.label || "")} ${esc(fmt(p[y]))}</title></circle>`).join("");
  const xl = `<text x="${L}" y="${h - 6}">${esc(xfmt(x0, points[0]))}</text><text x="${w - R}" y="${h - 6}" text-anchor="end">${esc(xfmt(x1, points[points.length - 1]))}</text>`;
  return `<svg viewBox="0 0 ${w} ${h}" width="100%" role="img">${ticks}
    <path d="${d}" fill="none" stroke="#4f46e5" stroke-width="2"/>${dots}${xl}</svg>`;
}

function bars(rows, { fmt = num, max = null } = {}) {
  if (!rows.length) return `<div class="empty">Nothing yet.</div>`;
  const top = max ?? Math.max(...rows.map((r) => r[1]), 1e-9);
  return `<div class="bars">${rows.map(([label, v]) => `<div class="row"><span>${esc(label)}</span>
    <div class="bar"><i style="width:${(100 * v / top).toFixed(1)}%"></i></div><span>${esc(fmt(v))}</span></div>`).join("")}</div>`;
}

function chain(row) {
  const key = row.key_action, kts = row.key_ts;
  return `<div class="chips">${row.chain.map((c, i) => `${i ? '<span class="arrow">→</span>' : ""}<span class="chip${
    c.signal === key && Math.abs(c.ts - kts) < 1 ? " key" : ""}" title="${esc(when(c.ts))}">${esc(c.signal)} <time>${hm(c.ts)}</time></span>`).join("")}</div>`;
}

const entry = (e) => esc(e.source || e.campaign || e.referrer || e.channel || "");

// -- pages
async function overview() {
  view.innerHTML = `<div class="head"><div><h1>Overview</h1><div class="muted">What is happening now</div></div></div>
    <div class="grid cols-4" id="stats"></div>
    <div class="grid cols-2" style="margin-top:1rem">
      <div class="card"><h2>Key actions that precede purchases</h2><div id="keys"></div></div>
      <div class="card"><h2>Active clusters (last 30 minutes)</h2><div id="clusters"></div></div>
      <div class="card"><h2>Segment sizes</h2><div id="segs"></div></div>
      <div class="card"><h2>Messages</h2><div id="msgs"></div></div>
    </div>`;
  let last = null;
  async function refresh() {
    const o = await api("/v1/dashboard/overview");
    const rate = last ? Math.max(0, (o.events - last.events) / ((performance.now() - last.at) / 1000)) : 0;
    last = { events: o.events, at: performance.now() };
    setStatus(true, { events: o.events });
    const card = (v, l, id) => `<div class="card stat" id="${id}"><div class="v">${v}</div><div class="l">${l}</div></div>`;
    document.getElementById("stats").innerHTML =
      card(num(rate), "events / s", "s-rate") + card(num(o.events_stored), "events stored", "s-events") +
      card(num(o.active), "active customers (30 min)", "s-active") + card(num(o.customers), "golden records in memory", "s-customers") +
      card(num(o.orders), "conversions (orders)", "s-orders") + card(money(o.revenue), "revenue", "s-revenue") +
      card(num(o.messages_total), "messages in the outbox", "s-messages") +
      (o.events_set_aside ? card(num(o.events_set_aside), "events set aside (intently events set-aside)", "s-aside") : "");
    document.getElementById("keys").innerHTML = bars(o.key_actions_before_purchase);
    document.getElementById("clusters").innerHTML = bars(o.active_clusters);
    document.getElementById("segs").innerHTML = bars(Object.entries(o.segments).sort((a, b) => b[1] - a[1]));
    document.getElementById("msgs").innerHTML = bars(Object.entries(o.messages));
  }
  await refresh();
  const t = setInterval(() => refresh().catch(() => setStatus(false)), 2000);
  cleanup.push(() => clearInterval(t));
}

async function live() {
  const [segments, clusters] = await Promise.all([api("/v1/segments"), api("/v1/intent/clusters")]);
  const params = new URLSearchParams(location.hash.split("?")[1] || "");
  view.innerHTML = `<div class="head"><div><h1>Live feed</h1>
      <div class="muted">Customers as they act: the chain of actions to the minute, the key action highlighted</div></div>
      <div class="filters">
        <label>Segment <select id="f-seg"><option value="">all</option>${segments.map((s) => `<option>${esc(s.name)}</option>`).join("")}</select></label>
        <label>Cluster <select id="f-cluster"><option value="">all</option>${clusters.clusters.map((c) => `<option>${esc(c.name)}</option>`).join("")}</select></label>
        <label>Probability ≥ <input id="f-min" type="range" min="0" max="0.9" step="0.1" value="${esc(params.get("min") || 0)}"><b id="f-min-v"></b></label>
      </div></div>
    <div class="card"><table class="stack"><thead><tr><th>Customer</th><th>Chain of actions</th><th class="hide-sm">Entry point</th>
      <th class="hide-sm">Cluster</th><th>Purchase probability</th><th class="hide-sm">Last seen</th></tr></thead>
      <tbody id="feed"><tr><td colspan="6" class="empty">Waiting for events…</td></tr></tbody></table></div>`;
  const rows = new Map();
  const fresh = new Set();
  const f = { seg: document.getElementById("f-seg"), cluster: document.getElementById("f-cluster"), min: document.getElementById("f-min") };
  f.seg.value = params.get("segment") || "";
  f.cluster.value = params.get("cluster") || "";
  function render() {
    document.getElementById("f-min-v").textContent = pct(+f.min.value);
    const shown = [...rows.values()].filter((r) => (!f.seg.value || r.segments.includes(f.seg.value)) &&
      (!f.cluster.value || r.cluster === f.cluster.value) && r.intent >= +f.min.value)
      .sort((a, b) => b.last_seen - a.last_seen).slice(0, 40);
    document.getElementById("feed").innerHTML = shown.length ? shown.map((r) => `<tr class="click${fresh.has(r.id) ? " flash" : ""}" data-id="${esc(r.id)}">
      <td><a href="#/customer/${enc(r.id)}">${esc(r.name || r.email || r.user_id || r.id)}</a><div class="muted">${esc(r.user_id ? r.id : "anonymous")}</div>
        ${r.segments.length ? `<div class="chips">${r.segments.map((s) => `<span class="chip seg">${esc(s)}</span>`).join("")}</div>` : ""}</td>
      <td>${chain(r)}${r.key_action ? `<div class="muted" style="margin-top:.25rem">key action: <b>${esc(r.key_detail || r.key_action)}</b> (+${pct(r.key_delta)})</div>` : ""}</td>
      <td class="hide-sm">${entry(r.entry)}</td><td class="hide-sm">${esc(r.cluster || "")}</td>
      <td>${probBar(r.intent)}${sparkline(r.trajectory)}</td><td class="hide-sm nowrap">${hm(r.last_seen)}</td></tr>`).join("")
      : `<tr><td colspan="6" class="empty">No customer matches these filters yet.</td></tr>`;
    fresh.clear();
  }
  for (const el of Object.values(f)) el.addEventListener("input", render);
  document.getElementById("feed").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-id]");
    if (tr && e.target.tagName !== "A") location.hash = `#/customer/${enc(tr.dataset.id)}`;
  });
  const first = await api("/v1/dashboard/feed?limit=60");
  for (const r of first.customers) rows.set(r.id, r);
  render();
  const source = new EventSource("/v1/dashboard/stream");
  source.onopen = () => setStatus(true);
  source.onerror = () => setStatus(false);
  source.onmessage = (m) => {
    const data = JSON.parse(m.data);
    setStatus(true, data);
    if (!data.customers.length) return;
    for (const r of data.customers) { rows.set(r.id, r); fresh.add(r.id); }
    if (rows.size > 400) {
      const keep = [...rows.values()].sort((a, b) => b.last_seen - a.last_seen).slice(0, 300);
      rows.clear(); for (const r of keep) rows.set(r.id, r);
    }
    render();
  };
  cleanup.push(() => source.close());
}

let lastEvents = null;
function setStatus(on, data) {
  statusEl.hidden = false;
  statusEl.classList.toggle("on", on);
  let text = on ? "live" : "reconnecting";
  if (data) {
    const now = performance.now();
    if (lastEvents) text = `live · ${num((data.events - lastEvents.n) / ((now - lastEvents.t) / 1000))} events/s`;
    lastEvents = { n: data.events, t: now };
  }
  statusEl.querySelector("span").textContent = text;
}

async function customer(id) {
  const [p, d] = await Promise.all([api(`/v1/profiles/${enc(id)}?timeline=60`), api(`/v1/dashboard/customers/${enc(id)}`)]);
  const row = d.row;
  // x is the event's position (journeys come in bursts: on a time axis they would pile up)
  const scores = d.scores.map((s, i) => ({ t: i, ts: s.ts, v: s.intent, label: `${s.signal} ${when(s.ts)}` }));
  const key = scores.filter((s) => row.key_action && s.label.startsWith(row.key_action + " ") && Math.abs(s.ts - row.key_ts) < 1);
  const j = p.journey;
  view.innerHTML = `<div class="head"><div><h1>${esc(p.traits.name || p.traits.email || p.user_id || p.id)}</h1>
      <div class="muted">${esc(p.id)} · ${esc(d.lifecycle)} · last seen ${esc(p.last_seen || "")}</div></div>
      <a class="btn" href="#/live">← Live feed</a></div>
    <div class="grid cols-4">
      <div class="card stat"><div class="v" id="p-intent">${pct(j.intent)}</div><div class="l">purchase probability now</div></div>
      <div class="card stat"><div class="v" id="p-key">${esc(j.key_action?.signal || "–")}</div><div class="l">key action${j.key_action ? ` (+${pct(j.key_action.raised_intent_by)} at ${esc(j.key_action.at.slice(11, 16))})` : ""}${j.key_action?.detail ? `<br>${esc(j.key_action.detail)}` : ""}</div></div>
      <div class="card stat"><div class="v" style="font-size:1.15rem">${esc(j.cluster?.name || "–")}</div><div class="l">${esc(j.cluster?.description || "cluster")}</div></div>
      <div class="card stat"><div class="v">${num(p.aggregates.orders)} · ${money(p.aggregates.revenue)}</div><div class="l">orders · revenue</div></div>
    </div>
    <div class="grid cols-2" style="margin-top:1rem">
      <div class="card"><h2>This journey: chain of actions</h2><div id="p-chain">${chain(row)}</div>
        <p class="muted">Entry point: <b>${entry(j.entry_point)}</b>${j.entry_point.campaign ? ` · campaign ${esc(j.entry_point.campaign)}` : ""}
        ${j.entry_point.landing ? ` · landing ${esc(j.entry_point.landing)}` : ""} · started ${esc(j.started || "")}</p></div>
      <div class="card"><h2>Purchase probability over time</h2>${lineChart(scores, { max: 1, fmt: (v) => pct(v), marks: key, xfmt: (_, p) => when(p.ts) })}
        <div class="muted">Each point is an event; the key action is marked in amber.</div></div>
      <div class="card"><h2>Golden record</h2><dl class="kv">
        <dt>User id</dt><dd>${esc(p.user_id || "anonymous")}</dd>
        <dt>Identities</dt><dd>${p.identities.map(esc).join(", ")}</dd>
        <dt>Traits</dt><dd>${Object.entries(p.traits).filter(([k]) => k !== "consents").map(([k, v]) => `${esc(k)}: ${esc(typeof v === "object" ? JSON.stringify(v) : v)}`).join("<br>") || "–"}</dd>
        <dt>Consents</dt><dd>${Object.entries(p.consents).map(([k, v]) => `${esc(k)} ${v ? "✓" : "✗"}`).join(" · ") || "–"}</dd>
        <dt>Time zone</dt><dd>${esc(p.timezone || "–")}</dd>
        <dt>Sessions · events</dt><dd>${num(p.aggregates.sessions)} · ${num(p.aggregates.events)}</dd>
        <dt>Categories</dt><dd>${Object.entries(p.aggregates.categories).slice(0, 5).map(([k, v]) => `${esc(k)} (${v})`).join(", ") || "–"}</dd>
        <dt>RFM</dt><dd>${p.rfm ? `${esc(p.rfm.segment)} (R${p.rfm.r} F${p.rfm.f} M${p.rfm.m})` : "run <code>intently rfm update</code>"}</dd>
        <dt>Merged from</dt><dd>${p.merged_from?.map(esc).join(", ") || "–"}</dd>
      </dl></div>
      <div class="card"><h2>Portrait</h2><dl class="kv">${Object.entries(p.tags).map(([k, v]) => `<dt>${esc(k.replaceAll("_", " "))}</dt><dd>${esc(v ?? "–")}</dd>`).join("")}</dl>
        <h2 style="margin-top:1rem">Segments</h2><div class="chips">${p.segments.map((s) => `<a class="chip seg" href="#/segments/${enc(s)}">${esc(s)}</a>`).join("") || '<span class="muted">none</span>'}</div></div>
      <div class="card"><h2>Messages received</h2>${d.messages.length ? `<table><thead><tr><th>When</th><th>Scenario</th><th>Channel</th><th>Subject</th><th>Status</th></tr></thead><tbody>
        ${d.messages.map((m) => `<tr><td class="nowrap">${esc(when(m.due))}</td><td><a href="#/scenarios/${enc(m.scenario)}">${esc(m.scenario)}</a> <span class="muted">${esc(m.arm)}</span></td>
        <td>${esc(m.channel)}</td><td>${esc(m.subject)}</td><td><span class="pill ${esc(m.status)}">${esc(m.status)}</span> ${m.outcomes.map((o) => `<span class="pill delivered">${esc(o)}</span>`).join(" ")}</td></tr>`).join("")}</tbody></table>` : `<div class="empty">No messages yet.</div>`}
        ${d.journeys.length ? `<h2 style="margin-top:1rem">Scenario journeys</h2><table><tbody>${d.journeys.slice(0, 12).map((x) => `<tr><td class="nowrap">${esc(when(x.ts))}</td><td>${esc(x.scenario)}</td><td>${esc(x.kind)}${x.ref ? ` <span class="muted">${esc(x.ref)}</span>` : ""}</td></tr>`).join("")}</tbody></table>` : ""}</div>
      <div class="card"><h2>Timeline</h2><table><tbody>${p.timeline.map((e) => `<tr><td class="nowrap">${esc(e.at.slice(0, 16).replace("T", " "))}</td>
        <td>${esc(e.event || e.type)}</td><td class="muted">${esc(Object.entries(e.properties || {}).filter(([, v]) => typeof v !== "object").slice(0, 3).map(([k, v]) => `${k}: ${v}`).join(", "))}</td></tr>`).join("")}</tbody></table></div>
      ${privacyCard(p.id)}
    </div>`;
  wirePrivacy(p.id);
}

// -- privacy: export and erasure take an admin or privacy key typed here, sent in the header
// (never the session cookie: a form on another site must not be able to erase anyone)
function privacyCard(id) {
  return `<div class="card" id="privacy"><h2>Privacy</h2>
    <p class="muted">Export everything held on this customer, or erase it. Both need an admin or privacy key; it is sent with the request and not kept.</p>
    <div class="field"><label for="privacy-key">Admin or privacy key</label><input id="privacy-key" type="password" autocomplete="off"></div>
    <button type="button" id="privacy-export">Export as JSON</button>
    <div class="field" style="margin-top:1rem"><label for="privacy-confirm">To erase, type the customer's id: <code>${esc(id)}</code></label><input id="privacy-confirm" type="text" autocomplete="off"></div>
    <button type="button" class="danger" id="privacy-erase">Erase this customer</button>
    <div id="privacy-result" aria-live="polite"></div></div>`;
}

async function privacyCall(verb, id) {
  const key = document.getElementById("privacy-key").value;
  const r = await fetch(`/v1/privacy/${verb}`, { method: "POST", credentials: "omit",
    headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
    body: JSON.stringify({ identifier: id }) });
  const body = await r.json();
  if (!r.ok) throw new Error(body.message || r.statusText);
  return body;
}

function wirePrivacy(id) {
  const result = document.getElementById("privacy-result");
  const show = (cls, text) => { result.innerHTML = `<div class="${cls}" role="status">${esc(text)}</div>`; };
  document.getElementById("privacy-export").addEventListener("click", async () => {
    try {
      const bundle = await privacyCall("export", id);
      const link = document.createElement("a");
      link.href = URL.createObjectURL(new Blob([JSON.stringify(bundle, null, 2)], { type: "application/json" }));
      link.download = `intently-export-${id}.json`;
      link.click();
      show("ok", `Exported ${bundle.events.length} events and ${bundle.messages.length} messages.`);
    } catch (e) { show("error", e.message); }
  });
  document.getElementById("privacy-erase").addEventListener("click", async () => {
    if (document.getElementById("privacy-confirm").value.trim() !== id) {
      show("error", "Type the customer's id to confirm the erasure."); return;
    }
    try {
      const r = await privacyCall("erase", id);
      show("ok", `Erased: ${r.records} record(s), ${r.events} events, ${r.messages} messages; ${r.suppressed} identifiers suppressed.`);
      document.getElementById("privacy-erase").disabled = true;
    } catch (e) { show("error", e.message); }
  });
}

function ruleForm(existing) {
  return `<form id="seg-form" class="card" novalidate><h2>${existing ? "Edit segment" : "New segment"}</h2>
    <div class="field"><label for="seg-name">Name</label><input id="seg-name" type="text" required value="${esc(existing?.name || "")}" ${existing ? "readonly" : ""} placeholder="shoe browsers"></div>
    <div class="field"><label for="seg-rule">Rule</label><textarea id="seg-rule" spellcheck="false" placeholder='did viewed_product with category = "shoes" >= 3 in 7d and no purchased in 30d'>${esc(existing?.text || "")}</textarea>
      <div id="seg-check" aria-live="polite"></div></div>
    <div class="field"><label for="seg-desc">Description</label><input id="seg-desc" type="text" value="${esc(existing?.description || "")}"></div>
    <button class="primary" type="submit">${existing ? "Save" : "Create segment"}</button> <span id="seg-saved" class="ok"></span></form>`;
}

function showRuleError(el, text, body) {
  const caret = body.position != null ? `\n${text}\n${" ".repeat(body.position)}^` : "";
  el.innerHTML = `<div class="error" role="alert">${esc(body.message)}${esc(caret)}</div>`;
}

function wireRuleForm(onSaved) {
  const form = document.getElementById("seg-form");
  const rule = document.getElementById("seg-rule"), check = document.getElementById("seg-check");
  let timer;
  rule.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(async () => {
      if (!rule.value.trim()) { check.innerHTML = ""; return; }
      try {
        const r = await api("/v1/rules/validate", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ text: rule.value }) });
        check.innerHTML = r.unknown_fields.length ? `<div class="error">unknown fields: ${esc(r.unknown_fields.join(", "))}</div>` : `<div class="ok">✓ ${esc(r.text)}</div>`;
      } catch (e) { if (e.body) showRuleError(check, rule.value, e.body); }
    }, 250);
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const name = document.getElementById("seg-name").value.trim();
    if (!name) { check.innerHTML = `<div class="error" role="alert">A segment needs a name.</div>`; return; }
    try {
      const r = await api(`/v1/segments/${enc(name)}`, { method: "PUT", headers: { "content-type": "application/json" },
        body: JSON.stringify({ text: rule.value, description: document.getElementById("seg-desc").value }) });
      document.getElementById("seg-saved").textContent = `Saved: ${r.entered} customers entered.`;
      onSaved(name);
    } catch (err) { if (err.body) showRuleError(check, rule.value, err.body); else throw err; }
  });
}

async function segments() {
  const list = await api("/v1/segments");
  view.innerHTML = `<div class="head"><div><h1>Segments</h1><div class="muted">Live: customers enter and leave on each event and when time passes</div></div></div>
    <div class="grid cols-2"><div class="card"><table><thead><tr><th>Segment</th><th>Rule</th><th>Members</th></tr></thead>
    <tbody id="seg-list">${list.map((s) => `<tr class="click" data-name="${esc(s.name)}"><td><a href="#/segments/${enc(s.name)}">${esc(s.name)}</a>
      <div class="muted">${esc(s.description)}</div></td><td><code>${esc(s.text)}</code></td><td>${num(s.size)}</td></tr>`).join("") ||
      `<tr><td colspan="3" class="empty">No segments yet: create one.</td></tr>`}</tbody></table></div>
    ${ruleForm(null)}</div>`;
  document.getElementById("seg-list").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-name]"); if (tr) location.hash = `#/segments/${enc(tr.dataset.name)}`;
  });
  wireRuleForm(() => setTimeout(segments, 600));
}

async function segment(name) {
  const [list, history, comp] = await Promise.all([api("/v1/segments"), api(`/v1/segments/${enc(name)}/history`), api(`/v1/dashboard/segments/${enc(name)}/composition`)]);
  const s = list.find((x) => x.name === name);
  view.innerHTML = `<div class="head"><div><h1>${esc(name)}</h1><div class="muted">${esc(s?.description || "")}</div></div>
      <div><a class="btn" href="/v1/segments/${enc(name)}/members?format=csv">Export CSV</a> <a class="btn" href="#/segments">← Segments</a></div></div>
    <div class="grid cols-4"><div class="card stat"><div class="v">${num(s?.size)}</div><div class="l">members</div></div>
      <div class="card stat"><div class="v">${pct(comp.average_intent)}</div><div class="l">average purchase probability</div></div>
      <div class="card stat"><div class="v">${money(comp.average_revenue)}</div><div class="l">average revenue</div></div></div>
    <div class="grid cols-2" style="margin-top:1rem">
      <div class="card"><h2>Size over time</h2>${lineChart(history.days.map((d) => ({ t: d.day, v: d.size, label: `+${d.entered} −${d.left}` })))}</div>
      <div class="card"><h2>Composition</h2><h3 class="muted" style="font-size:.85rem">clusters</h3>${bars(comp.clusters)}
        <h3 class="muted" style="font-size:.85rem">lifecycle</h3>${bars(comp.lifecycle)}</div>
      <div class="card wide"><h2>Recently active members</h2><table class="stack"><tbody>${comp.sample.map((r) => `<tr class="click"><td><a href="#/customer/${enc(r.id)}">${esc(r.email || r.id)}</a></td><td>${chain(r)}</td><td>${probBar(r.intent)}</td></tr>`).join("") || '<tr><td class="empty">No members in memory.</td></tr>'}</tbody></table></div>
      ${ruleForm(s)}</div>`;
  wireRuleForm(() => setTimeout(() => segment(name), 600));
}

async function clusters() {
  const [c, paths] = await Promise.all([api("/v1/intent/clusters"), api("/v1/dashboard/paths")]);
  const grid = {}; for (const g of paths.rfm) grid[`${g.r}-${g.f}`] = g.customers;
  const top = Math.max(1, ...paths.rfm.map((g) => g.customers));
  const maxT = Math.max(1, ...paths.transitions.map((t) => t.count));
  view.innerHTML = `<div class="head"><div><h1>Clusters &amp; paths</h1><div class="muted">Which chains of signals customers follow, and which lead to purchases</div></div></div>
    <div class="grid cols-3">${c.clusters.map((k) => `<div class="card cluster"><h3>${esc(k.name)}</h3><div class="muted">${esc(k.description)}</div>
      <p><b>${num(k.size)}</b> journeys · converts <b>${pct(k.conversion_rate)}</b></p>
      ${bars(Object.entries(k.signals).sort((a, b) => b[1] - a[1]).slice(0, 5), { fmt: pct, max: 1 })}
      <a href="#/live?cluster=${enc(k.name)}">Live customers in this cluster →</a></div>`).join("")}</div>
    <div class="grid cols-2" style="margin-top:1rem">
      <div class="card"><h2>Signal transitions</h2><table><thead><tr><th>From</th><th></th><th>To</th><th>Journeys</th></tr></thead><tbody>
        ${paths.transitions.slice(0, 18).map((t) => `<tr><td>${esc(t.from)}</td><td class="arrow">→</td><td>${esc(t.to)}</td>
        <td style="min-width:150px"><div class="bar"><i style="width:${(100 * t.count / maxT).toFixed(0)}%"></i></div> ${num(t.count)}</td></tr>`).join("")}</tbody></table></div>
      <div class="card"><h2>Purchase rate of journeys with each signal</h2>${bars(paths.signals.slice(0, 14).map((s) => [s.signal, s.purchase_rate]), { fmt: pct, max: 1 })}</div>
      <div class="card"><h2>RFM grid</h2>${paths.rfm_ready ? `<table class="heat"><thead><tr><th>R \\ F</th>${[1, 2, 3, 4, 5].map((f) => `<th>F${f}</th>`).join("")}</tr></thead><tbody>
        ${[5, 4, 3, 2, 1].map((r) => `<tr><th>R${r}</th>${[1, 2, 3, 4, 5].map((f) => { const n = grid[`${r}-${f}`] || 0;
          return `<td style="background:rgba(79,70,229,${(0.08 + 0.8 * n / top).toFixed(2)});color:${n / top > 0.5 ? "#fff" : "inherit"}">${num(n)}</td>`; }).join("")}</tr>`).join("")}</tbody></table>`
        : `<div class="empty">Run <code>intently rfm update</code> to fit the RFM cut points.</div>`}</div>
      <div class="card"><h2>Basket rules and offers</h2>${paths.rules.length ? `<table><thead><tr><th>If the basket has</th><th>Offer</th><th>Source</th></tr></thead><tbody>
        ${paths.rules.slice(0, 12).map((r) => `<tr><td>${r.when.map(esc).join(" + ")}</td><td><b>${esc(r.offer)}</b> ${r.discount ? `${r.discount}% off` : ""} ${r.partner ? `at ${esc(r.partner)}` : ""}</td>
        <td>${r.source === "mined" ? `mined · lift ${r.lift}` : "written"}</td></tr>`).join("")}</tbody></table>`
        : `<div class="empty">No rules yet: <code>intently rules mine --save</code> or PUT /v1/offers.</div>`}</div>
    </div>`;
}

async function scenarios() {
  const list = await api("/v1/scenarios");
  const reports = await Promise.all(list.map((s) => api(`/v1/scenarios/${enc(s.name)}/report`)));
  view.innerHTML = `<div class="head"><div><h1>Scenarios</h1><div class="muted">Every scenario against its holdout</div></div></div>
    <div class="card"><table><thead><tr><th>Scenario</th><th>Trigger</th><th>Entered</th><th>Sent</th><th>Conversion (treated vs holdout)</th><th>Winner</th></tr></thead><tbody>
    ${list.map((s, i) => { const r = reports[i]; const arms = Object.entries(r.arms);
      const treated = arms.filter(([a]) => a !== "holdout"); const entered = arms.reduce((n, [, a]) => n + a.entered, 0);
      const sent = arms.reduce((n, [, a]) => n + a.sent, 0); const conv = treated.reduce((n, [, a]) => n + a.conversions, 0);
      const tin = treated.reduce((n, [, a]) => n + a.entered, 0); const h = r.arms.holdout;
      return `<tr class="click" data-name="${esc(s.name)}"><td><a href="#/scenarios/${enc(s.name)}">${esc(s.name)}</a><div class="muted">${esc(s.description)}</div></td>
      <td>${esc(s.trigger)}</td><td>${num(entered)}</td><td>${num(sent)}</td><td>${tin ? pct(conv / tin) : "–"} vs ${h ? pct(h.conversion_rate) : "–"}</td><td>${esc(r.winner || "–")}</td></tr>`; }).join("") ||
      `<tr><td colspan="6" class="empty">No scenarios: <code>intently scenarios add --ready-made all</code></td></tr>`}</tbody></table></div>`;
  view.querySelector("tbody").addEventListener("click", (e) => {
    const tr = e.target.closest("tr[data-name]"); if (tr) location.hash = `#/scenarios/${enc(tr.dataset.name)}`;
  });
}

async function scenario(name) {
  const [r, f, sends] = await Promise.all([api(`/v1/scenarios/${enc(name)}/report`), api(`/v1/dashboard/scenarios/${enc(name)}/funnel`),
    api(`/v1/outbox?scenario=${enc(name)}&limit=15`)]);
  const arms = Object.entries(r.arms);
  const ciBar = (u) => { if (!u) return "baseline"; const s = (v) => 50 + v * 250; const [lo, hi] = u.ci95;
    return `<svg viewBox="0 0 100 16" width="140" height="18"><line x1="50" x2="50" y1="0" y2="16" stroke="#bbb"/>
      <line x1="${Math.max(0, s(lo))}" x2="${Math.min(100, s(hi))}" y1="8" y2="8" stroke="${u.significant ? "#12875a" : "#999"}" stroke-width="3"/>
      <circle cx="${Math.max(0, Math.min(100, s(u.difference)))}" cy="8" r="3.5" fill="${u.significant ? "#12875a" : "#666"}"/></svg>
      ${(u.difference * 100).toFixed(1)} pts [${(lo * 100).toFixed(1)}, ${(hi * 100).toFixed(1)}]`; };
  view.innerHTML = `<div class="head"><div><h1>${esc(name)}</h1><div class="muted">${esc(f.definition.description || "")}</div></div><a class="btn" href="#/scenarios">← Scenarios</a></div>
    <div class="card"><h2>Arms</h2><table><thead><tr><th>Arm</th><th>Entered</th><th>Sent</th><th>Delivered</th><th>Logged only</th><th>Opened</th><th>Clicked</th><th>Converted</th><th>Revenue</th><th>Uplift over holdout (95% CI)</th></tr></thead><tbody>
      ${arms.map(([a, x]) => `<tr><td><b>${esc(a)}</b></td><td>${num(x.entered)}</td><td>${num(x.sent)}</td><td>${num(x.delivered)}</td><td>${num(x.logged)}</td><td>${num(x.opened)}</td><td>${num(x.clicked)}</td>
      <td>${num(x.conversions)} (${pct(x.conversion_rate)})</td><td>${money(x.revenue)}</td><td>${ciBar(x.uplift)}</td></tr>`).join("")}</tbody></table>
      <p><b>Winner:</b> ${esc(r.winner || "none")} <span class="muted">(${esc(r.reason)})</span></p></div>
    <div class="grid cols-2" style="margin-top:1rem">
      <div class="card"><h2>Funnel</h2>${bars([["entered", f.entered], ...f.steps.filter((s) => s.sent || s.suppressed).map((s) => [`step ${s.step} ${s.action}: sent`, s.sent || 0]),
        ["converted", f.converted]])}
        <table style="margin-top:.6rem"><thead><tr><th>Step</th><th>Action</th><th>Sent</th><th>Suppressed</th></tr></thead><tbody>${f.steps.map((s) => `<tr><td>${s.step}${s.id ? ` <span class="muted">${esc(s.id)}</span>` : ""}</td><td>${esc(s.action)}</td><td>${num(s.sent)}</td><td>${num(s.suppressed)}</td></tr>`).join("")}</tbody></table></div>
      <div class="card"><h2>Recent sends</h2><table><tbody>${sends.map((m) => `<tr><td class="nowrap">${esc(when(m.due))}</td><td><a href="#/customer/${enc(m.customer)}">${esc(m.to || m.customer)}</a></td>
        <td>${esc(m.subject)}</td><td><span class="pill ${esc(m.status)}">${esc(m.status)}</span></td></tr>`).join("") || '<tr><td class="empty">Nothing sent yet.</td></tr>'}</tbody></table></div>
      <div class="card wide"><h2>Definition</h2><pre>${esc(f.yaml)}</pre></div>
    </div>`;
}

// -- admin: the dashboard's users and the audit journal (admins only: the API says 403 to others)
async function admin() {
  let users, audit;
  try { [users, audit] = await Promise.all([api("/v1/users"), api("/v1/audit?limit=100")]); }
  catch (e) { if (e.status === 403) { view.innerHTML = `<div class="card empty">Only admins manage users and read the audit journal.</div>`; return; } throw e; }
  const roles = ["viewer", "marketer", "admin"];
  view.innerHTML = `<div class="head"><div><h1>Admin</h1><div class="muted">Dashboard users and the audit journal</div></div></div>
    <div class="grid cols-2">
      <div class="card"><h2>Users</h2><table><thead><tr><th>Name</th><th>Role</th><th>Since</th><th></th></tr></thead><tbody id="users">
        ${users.map((u) => `<tr data-name="${esc(u.name)}"><td><b>${esc(u.name)}</b></td>
          <td><select class="user-role" aria-label="role of ${esc(u.name)}">${roles.map((r) => `<option${r === u.role ? " selected" : ""}>${r}</option>`).join("")}</select></td>
          <td class="nowrap">${esc(when(u.since))}</td><td><button class="btn user-remove">Remove</button></td></tr>`).join("") || '<tr><td colspan="4" class="empty">No users yet: people sign in with keys.</td></tr>'}</tbody></table>
        <form id="user-add" class="row" style="margin-top:.8rem;gap:.5rem;display:flex;flex-wrap:wrap">
          <input id="user-name" placeholder="name" required autocomplete="off">
          <select id="user-role">${roles.map((r) => `<option>${r}</option>`).join("")}</select>
          <input id="user-password" type="password" placeholder="password (12+ characters)" minlength="12" required autocomplete="new-password">
          <button class="btn" type="submit">Add user</button></form>
        <div id="user-msg" class="muted" role="status"></div></div>
      <div class="card"><h2>Audit journal <a class="btn" style="float:right" href="/v1/audit?format=csv&limit=100000">Download CSV</a></h2>
        <table><thead><tr><th>When</th><th>What</th><th>Subject</th><th>Who</th></tr></thead><tbody id="audit">
        ${audit.map((r) => `<tr title="${esc(r.detail)}"><td class="nowrap">${esc(when(r.at))}</td><td>${esc(r.verb)}</td><td>${esc(r.subject.length > 24 ? r.subject.slice(0, 12) + "…" : r.subject)}</td><td>${esc(r.actor)}</td></tr>`).join("") || '<tr><td colspan="4" class="empty">Nothing journaled yet.</td></tr>'}</tbody></table></div>
    </div>`;
  const msg = view.querySelector("#user-msg");
  const put = async (name, body) => {
    try { await api(`/v1/users/${enc(name)}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }); await admin(); }
    catch (e) { if (e.message !== "signed out") msg.textContent = e.message; }
  };
  view.querySelector("#user-add").addEventListener("submit", (e) => {
    e.preventDefault();
    put(view.querySelector("#user-name").value.trim(), { role: view.querySelector("#user-role").value, password: view.querySelector("#user-password").value });
  });
  view.querySelector("#users").addEventListener("change", (e) => {
    const tr = e.target.closest("tr[data-name]"); if (tr && e.target.matches(".user-role")) put(tr.dataset.name, { role: e.target.value });
  });
  view.querySelector("#users").addEventListener("click", async (e) => {
    const tr = e.target.closest("tr[data-name]");
    if (!tr || !e.target.matches(".user-remove") || !confirm(`Remove ${tr.dataset.name}? Their sessions end.`)) return;
    try { await api(`/v1/users/${enc(tr.dataset.name)}`, { method: "DELETE" }); await admin(); }
    catch (err) { if (err.message !== "signed out") msg.textContent = err.message; }
  });
}

// -- routing
const routes = [
  [/^#?\/?$/, overview, "overview"], [/^#\/live/, live, "live"], [/^#\/customer\/(.+)$/, customer, "live"],
  [/^#\/segments\/(.+)$/, segment, "segments"], [/^#\/segments\/?$/, segments, "segments"],
  [/^#\/clusters/, clusters, "clusters"], [/^#\/scenarios\/(.+)$/, scenario, "scenarios"], [/^#\/scenarios\/?$/, scenarios, "scenarios"],
  [/^#\/admin/, admin, "admin"],
];

async function route() {
  for (const stop of cleanup) stop();
  cleanup = [];
  lastEvents = null;
  statusEl.classList.remove("on");
  statusEl.hidden = true;  // shown by the pages that stream or poll
  const hash = location.hash.split("?")[0];
  for (const [pattern, page, nav] of routes) {
    const m = hash.match(pattern);
    if (!m) continue;
    document.querySelectorAll("#nav a").forEach((a) => a.classList.toggle("on", a.dataset.page === nav));
    view.innerHTML = `<div class="empty">Loading…</div>`;
    try { await page(...m.slice(1).map(decodeURIComponent)); }
    catch (e) { if (e.message !== "signed out") view.innerHTML = `<div class="card error">${esc(e.message)}</div>`; }
    return;
  }
  view.innerHTML = `<div class="card empty">No such page.</div>`;
}
window.addEventListener("hashchange", route);
route();
