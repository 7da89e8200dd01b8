// The TARS trace page: recent runs, and a run's DAG grouped by agent,
// drawn from the trace that /api/runs/{id} derives from the run's history
// and Plan. Plain JS, no build step, no network beyond this server.
"use strict";

const STATES = ["pending", "running", "waiting", "ok", "failed", "skipped", "handled", "paused"];
const RUNTIMES = ["native", "wasm", "hyperlight", "cuda"];
const MARK = { pending: "·", running: "▶", waiting: "?", ok: "✓", failed: "✗", skipped: "–", handled: "!", paused: "‖",
  // a step in flight when the run was terminated, timed out or cancelled
  terminated: "✗", timed_out: "✗", canceled: "✗" };
const POLL_MS = 1000;

const view = { wid: "", rid: "", timer: 0, data: null, selected: "", wantStep: "", runs: [], filter: "" };

const $ = (sel) => document.querySelector(sel);

function esc(s) {
  return String(s == null ? "" : s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}

function dur(ms) {
  if (ms == null || isNaN(ms)) return "";
  if (ms === 0) return "–";
  if (ms < 1) return Math.round(ms * 1000) + "µs";
  if (ms < 1000) return (ms < 10 ? ms.toFixed(1) : Math.round(ms)) + "ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(s < 10 ? 2 : 1) + "s";
  const m = Math.floor(s / 60);
  return m + "m" + String(Math.round(s - m * 60)).padStart(2, "0") + "s";
}

function bytes(n) {
  if (!n) return "0 B";
  if (n < 1024) return n + " B";
  if (n < 1048576) return (n / 1024).toFixed(1) + " KiB";
  return (n / 1048576).toFixed(1) + " MiB";
}

function when(t) {
  if (!t) return "";
  const d = new Date(t);
  return isNaN(d) ? "" : d.toLocaleTimeString([], { hour12: false }) + "." + String(d.getMilliseconds()).padStart(3, "0");
}

function ago(t) {
  const s = (Date.now() - new Date(t).getTime()) / 1000;
  if (!(s >= 0)) return "";
  if (s < 60) return Math.round(s) + "s ago";
  if (s < 3600) return Math.round(s / 60) + "m ago";
  if (s < 86400) return Math.round(s / 3600) + "h ago";
  return new Date(t).toLocaleDateString();
}

function runtimeOf(step) {
  if (step.runtime) return step.runtime;
  if ((step.kind === "tool" || step.kind === "reason") && step.chain && step.chain.length) return step.chain[0];
  return "";
}

// ---- run list ----

async function loadRuns() {
  try {
    const res = await fetch("/api/runs");
    const body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
    view.runs = body.runs || [];
    $("#where").textContent = body.namespace ? "namespace " + body.namespace + " on " + body.address : "";
    renderRuns();
  } catch (e) {
    $("#runs").innerHTML = '<li class="muted" style="padding:8px 12px">cannot list runs: ' + esc(e.message) + "</li>";
  }
}

function renderRuns() {
  const f = view.filter.toLowerCase();
  const items = view.runs.filter((r) => !f || r.workflow_id.toLowerCase().includes(f) || r.type.toLowerCase().includes(f));
  if (!items.length) {
    $("#runs").innerHTML = '<li class="muted" style="padding:8px 12px">no runs yet</li>';
    return;
  }
  $("#runs").innerHTML = items.map((r) => {
    const cur = r.workflow_id === view.wid && (!view.rid || r.run_id === view.rid) ? " current" : "";
    const href = "?run=" + encodeURIComponent(r.workflow_id) + "&rid=" + encodeURIComponent(r.run_id);
    return '<li class="' + cur + '" data-run="' + esc(r.workflow_id) + '" data-status="' + esc(r.status) + '">' +
      '<a href="' + href + '" data-wid="' + esc(r.workflow_id) + '" data-rid="' + esc(r.run_id) + '"' + (r.parent ? ' class="child"' : "") + ">" +
      '<span class="rtype">' + esc(r.type) + '</span><span class="chip ' + esc(r.status) + '">' + esc(r.status) + "</span>" +
      '<div class="rid">' + esc(r.workflow_id) + "</div>" +
      '<div class="rid">' + esc(ago(r.start)) + (r.parent ? " · child of " + esc(r.parent) : "") + "</div></a></li>";
  }).join("");
}

// ---- one run ----

function openRun(wid, rid, push) {
  clearTimeout(view.timer);
  view.wid = wid;
  view.rid = rid || "";
  view.data = null;
  view.selected = "";
  $("#panel").hidden = true;
  if (push) history.pushState({ wid, rid }, "", "?run=" + encodeURIComponent(wid) + (rid ? "&rid=" + encodeURIComponent(rid) : ""));
  renderRuns();
  poll();
}

async function poll() {
  if (!view.wid) return;
  const wid = view.wid;
  let url = "/api/runs/" + encodeURIComponent(wid);
  if (view.rid) url += "?run_id=" + encodeURIComponent(view.rid);
  let body;
  try {
    const res = await fetch(url);
    body = await res.json();
    if (!res.ok) throw new Error(body.error || res.statusText);
  } catch (e) {
    if (wid !== view.wid) return;
    $("#empty").hidden = true;
    $("#run-view").hidden = false;
    $("#run-title").textContent = wid;
    $("#run-meta").innerHTML = '<div class="error-box">' + esc(e.message) + "</div>";
    $("#graph").innerHTML = "";
    view.timer = setTimeout(poll, 3 * POLL_MS);
    return;
  }
  if (wid !== view.wid) return; // another run was opened meanwhile
  view.data = body;
  if (!view.selected && view.wantStep) view.selected = view.wantStep;
  view.wantStep = "";
  render(body);
  if (body.trace.status === "running") view.timer = setTimeout(poll, POLL_MS);
}

// liveDurations extends open steps and the run to the time of the fetch:
// the history only knows the time of its last event.
function liveDurations(body) {
  const t = body.trace;
  if (t.status !== "running" || !body.fetched_at) return;
  const now = new Date(body.fetched_at).getTime();
  t.duration_ms = Math.max(t.duration_ms || 0, now - new Date(t.start).getTime());
  for (const s of t.steps) {
    if ((s.status === "running" || s.status === "waiting") && s.start) {
      s.duration_ms = Math.max(0, now - new Date(s.start).getTime());
    }
  }
}

function plural(n, what) {
  return n + " " + what + (n === 1 ? "" : "s");
}

function render(body) {
  liveDurations(body);
  const t = body.trace;
  $("#empty").hidden = true;
  $("#run-view").hidden = false;
  document.title = t.metascript + " · TARS traces";
  $("#run-title").innerHTML = esc(t.metascript) + '<span class="chip ' + esc(t.status) + '" id="run-status" data-status="' + esc(t.status) + '">' + esc(t.status) + "</span>";
  const meta = [
    '<span class="mono">' + esc(t.workflow_id) + "</span>",
    "run " + '<span class="mono">' + esc((t.run_id || "").slice(0, 8)) + "</span>",
    (t.status === "running" ? "running for " : "took ") + dur(t.duration_ms),
    plural(t.events, "event"),
    plural(t.totals.run.attempts, "attempt"),
  ];
  if (t.totals.run.failures) meta.push(plural(t.totals.run.failures, "failed attempt"));
  if (t.totals.run.hops) meta.push(plural(t.totals.run.hops, "hop"));
  if (body.ui && body.ui.run) meta.push('<a href="' + esc(body.ui.run) + '" target="_blank" rel="noopener">history in Temporal UI</a>');
  if (t.parent) meta.push('child of <a href="?run=' + encodeURIComponent(t.parent.workflow_id) + '">' + esc(t.parent.workflow_id) + "</a>");
  if (t.live) meta.push("live · updated " + when(body.fetched_at));
  let html = meta.map((m) => "<span>" + m + "</span>").join("");
  if (t.error) html += '<div class="error-box">' + esc(t.error) + "</div>";
  $("#run-meta").innerHTML = html;
  renderLegend();
  $("#graph").innerHTML = dag(t, body.ui);
  markOverflow();
  for (const g of document.querySelectorAll("#graph g.step")) {
    g.addEventListener("click", (ev) => {
      if (ev.target.closest("a")) return;
      select(g.dataset.step);
    });
  }
  renderTotals(t);
  if (view.selected) select(view.selected);
}

// markOverflow counts the lane labels whose rendered text reaches past the
// head column, into the steps (data-lane-overflow on the SVG: 0 when every
// label fits), so a test in a real browser can tell a cut label.
function markOverflow() {
  const svg = document.querySelector("#graph svg.dag");
  if (!svg) return;
  const limit = Number(svg.dataset.headWidth) - 2;
  let n = 0;
  for (const el of svg.querySelectorAll("g.lane text, g.lane tspan")) {
    if (el.tagName === "text" && el.querySelector("tspan")) continue;
    const b = el.getBBox();
    if (b.x + b.width > limit) {
      n++;
      el.classList.add("overflow");
    }
  }
  svg.dataset.laneOverflow = String(n);
}

function renderLegend() {
  if ($("#legend").childElementCount) return;
  const st = STATES.map((s) => '<span><i style="background:var(--' + s + ");border-color:var(--" + s + '-b)"></i>' + s + "</span>");
  const rt = RUNTIMES.map((r) => '<span class="rt"><i style="border-color:var(--rt-' + r + ')"></i>' + r + "</span>");
  $("#legend").innerHTML = st.join("") + '<span style="margin-left:12px">border = runtime:</span>' + rt.join("");
}

// lanes lists agents in the trace's department → team → agent order.
function lanes(t) {
  const out = [];
  for (const d of t.departments || []) for (const tm of d.teams || []) for (const a of tm.agents || []) {
    out.push({ agent: a.id, role: a.role, dept: d.name, team: tm.name, steps: a.steps || [], total: a.total });
  }
  return out;
}

// Lane labels are measured in the page's own font, not estimated: a head
// column as wide as the longest label up to HEAD_MAX, and a label longer
// than that wrapped onto more lines (at " / ", "-" or spaces), so that no
// label is cut by the first column of steps. The full label is also the
// lane's tooltip.
const HEAD_MIN = 150, HEAD_MAX = 300, HEAD_X = 12;
const FONT_NAME = "600 13px", FONT_SUB = "11px";
let measureCtx = null;

function textWidth(text, font) {
  if (!measureCtx) measureCtx = document.createElement("canvas").getContext("2d");
  const family = getComputedStyle(document.body).fontFamily || "sans-serif";
  measureCtx.font = font + " " + family;
  return measureCtx.measureText(text).width;
}

// fit cuts text to max pixels wide in font, with an ellipsis (the box's
// tooltip and the side panel have it whole).
function fit(text, font, max) {
  if (textWidth(text, font) <= max) return text;
  let n = text.length;
  while (n > 1 && textWidth(text.slice(0, n) + "…", font) > max) n--;
  return text.slice(0, n).trimEnd() + "…";
}

// wrapLabel breaks text into lines no wider than max, between the parts
// that " / ", "-" and spaces separate (a part wider than max stays whole).
function wrapLabel(text, font, max) {
  if (textWidth(text, font) <= max) return [text];
  const parts = text.split(/(?<=\/ |-| )/);
  const lines = [];
  let cur = "";
  for (const p of parts) {
    if (cur && textWidth(cur + p, font) > max) {
      lines.push(cur.trimEnd());
      cur = p;
    } else {
      cur += p;
    }
  }
  if (cur) lines.push(cur.trimEnd());
  return lines;
}

// dag draws the steps as an SVG: one horizontal lane per agent, one column
// per topological depth, edges for needs and dashed edges from a step to
// its on_error handler.
function dag(t, ui) {
  const BOX_W = 172, BOX_H = 60, COL_W = 204, ROW_H = 72, PAD = 14;
  const byID = {};
  for (const s of t.steps) byID[s.id] = s;
  const pos = {};
  const ls = lanes(t);
  let HEAD_W = HEAD_MIN;
  for (const lane of ls) {
    lane.name = lane.agent || "(no agent)";
    lane.where = [lane.dept, lane.team].filter(Boolean).join(" / ");
    HEAD_W = Math.max(HEAD_W, 2 * HEAD_X + textWidth(lane.name, FONT_NAME), 2 * HEAD_X + textWidth(lane.where, FONT_SUB));
  }
  HEAD_W = Math.ceil(Math.min(HEAD_W, HEAD_MAX));
  for (const lane of ls) {
    lane.nameLines = wrapLabel(lane.name, FONT_NAME, HEAD_W - 2 * HEAD_X);
    lane.whereLines = lane.where ? wrapLabel(lane.where, FONT_SUB, HEAD_W - 2 * HEAD_X) : [];
  }
  let y = 0, maxDepth = 0;
  for (const lane of ls) {
    const rows = {};
    let maxRows = 1;
    for (const id of lane.steps) {
      const s = byID[id];
      if (!s) continue;
      const r = rows[s.depth] || 0;
      rows[s.depth] = r + 1;
      maxRows = Math.max(maxRows, r + 1);
      maxDepth = Math.max(maxDepth, s.depth);
      pos[id] = { x: HEAD_W + PAD + s.depth * COL_W, y: y + PAD + r * ROW_H };
    }
    lane.y = y;
    const headH = 24 + 16 * (lane.nameLines.length - 1) + 16 * (lane.whereLines.length + 1) + PAD;
    lane.h = Math.max(PAD * 2 + (maxRows - 1) * ROW_H + BOX_H, headH);
    y += lane.h;
  }
  const W = HEAD_W + PAD * 2 + maxDepth * COL_W + BOX_W + PAD, H = Math.max(y, 60);
  // Scales down to the page's width, never up.
  const parts = ['<svg class="dag" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + W + " " + H + '" data-head-width="' + HEAD_W + '" style="width:100%;max-width:' + W + 'px;height:auto">',
    '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#94a3b8"/></marker>' +
    '<marker id="arrow-err" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#ea580c"/></marker></defs>'];
  const lines = (cls, ls, x, y0, step) => ls.length === 1 ? '<text class="' + cls + '" x="' + x + '" y="' + y0 + '">' + esc(ls[0]) + "</text>" :
    '<text class="' + cls + '" x="' + x + '" y="' + y0 + '">' + ls.map((l, k) => '<tspan x="' + x + '" dy="' + (k ? step : 0) + '">' + esc(l) + "</tspan>").join("") + "</text>";
  ls.forEach((lane, i) => {
    let ly = lane.y + 24;
    let head = lines("lane-name", lane.nameLines, HEAD_X, ly, 16);
    ly += 16 * lane.nameLines.length;
    if (lane.whereLines.length) {
      head += lines("lane-sub", lane.whereLines, HEAD_X, ly, 14);
      ly += 14 * lane.whereLines.length + 2;
    }
    if (lane.total && lane.total.attempts) head += '<text class="lane-sub" x="' + HEAD_X + '" y="' + ly + '">' + plural(lane.total.attempts, "attempt") + " · busy " + esc(dur(lane.total.busy_ms)) + "</text>";
    parts.push('<g class="lane" data-agent="' + esc(lane.agent) + '"><title>' + esc([lane.name, lane.where].filter(Boolean).join(" — ")) + '</title><rect class="lane-bg' + (i % 2 ? " alt" : "") + '" x="0" y="' + lane.y + '" width="' + W + '" height="' + lane.h + '"/>' +
      head + "</g>");
  });
  for (const s of t.steps) {
    const to = pos[s.id];
    if (!to) continue;
    for (const n of s.needs || []) {
      const from = pos[n];
      if (!from) continue;
      const x1 = from.x + BOX_W, y1 = from.y + BOX_H / 2, x2 = to.x - 2, y2 = to.y + BOX_H / 2;
      const dx = Math.max(30, (x2 - x1) / 2);
      const done = byID[n] && (byID[n].status === "ok" || byID[n].status === "handled");
      parts.push('<path class="edge' + (done ? " done" : "") + '" data-from="' + esc(n) + '" data-to="' + esc(s.id) + '" marker-end="url(#arrow)" d="M' + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " + (x2 - dx) + "," + y2 + " " + x2 + "," + y2 + '"/>');
    }
  }
  for (const s of t.steps) parts.push(errorEdge(s, pos, byID, BOX_W, BOX_H));
  for (const s of t.steps) {
    const p = pos[s.id];
    if (!p) continue;
    const rt = runtimeOf(s);
    const sub = [rt || s.kind];
    if (s.duration_ms) sub.push(dur(s.duration_ms));
    if (s.items) sub.push((s.items_done || 0) + "/" + s.items + " items");
    if (s.shards) sub.push((s.shards_done || 0) + "/" + s.shards + " shards");
    if (s.turns) sub.push(s.turns + " turns");
    const notes = [];
    if (s.on_error && s.on_error.step) notes.push("on_error → " + s.on_error.step);
    if (s.attempts > (s.activities || []).length) notes.push(plural(s.attempts, "attempt"));
    for (const h of s.hops || []) notes.push("↪ " + h.from + "→" + (h.to || "none"));
    if (s.status === "waiting") notes.push("awaiting approval");
    if (s.approval) notes.push((s.approval.approved ? "approved" : "rejected") + " by " + (s.approval.by || "?"));
    if (s.child) notes.push("child " + s.child.status);
    const tip = tooltip(s, rt);
    const link = ui && ui.events && s.event_id ? ui.events + s.event_id : "";
    parts.push('<g class="step" data-step="' + esc(s.id) + '" data-state="' + esc(s.status) + '" data-runtime="' + esc(rt) + '" data-agent="' + esc(s.agent || "") +
      '" data-kind="' + esc(s.kind) + '" data-attempts="' + (s.attempts || 0) + '" data-hops="' + (s.hops || []).length + '"' + (link ? ' data-event-url="' + esc(link) + '"' : "") +
      ' transform="translate(' + p.x + "," + p.y + ')">' +
      "<title>" + esc(tip) + "</title>" +
      '<rect class="box state-' + esc(s.status) + " rt-" + esc(rt || "none") + '" width="' + BOX_W + '" height="' + BOX_H + '"/>' +
      '<text class="sid" x="10" y="19">' + esc(MARK[s.status] || "") + " " + esc(s.id) + "</text>" +
      '<text class="sub" x="10" y="35">' + esc(sub.join(" · ")) + "</text>" +
      (notes.length ? '<text class="note" x="10" y="51">' + esc(fit(notes.join(" · "), "10.5px", BOX_W - 16)) + "</text>" : "") +
      (link ? '<a href="' + esc(link) + '" target="_blank" rel="noopener" class="evlink"><text class="sub" x="' + (BOX_W - 8) + '" y="19" text-anchor="end">#' + s.event_id + "</text></a>" : "") +
      "</g>");
  }
  parts.push("</svg>");
  return parts.join("");
}

// errorEdge is the dashed edge from a step to the handler its on_error
// runs: forward (handler in a later column) from side to side, otherwise
// from the step's bottom or top to the handler's top or bottom. It is
// "taken" once the handler ran for this step (the step is handled).
function errorEdge(s, pos, byID, BOX_W, BOX_H) {
  const h = s.on_error && s.on_error.step;
  const from = pos[s.id], to = h && pos[h];
  if (!from || !to) return "";
  let d;
  if (to.x > from.x + BOX_W) {
    const x1 = from.x + BOX_W, y1 = from.y + BOX_H * 0.75, x2 = to.x - 2, y2 = to.y + BOX_H * 0.75, dx = Math.max(30, (x2 - x1) / 2);
    d = "M" + x1 + "," + y1 + " C" + (x1 + dx) + "," + y1 + " " + (x2 - dx) + "," + y2 + " " + x2 + "," + y2;
  } else {
    const down = to.y >= from.y;
    const x1 = from.x + BOX_W * 0.5, y1 = down ? from.y + BOX_H : from.y, x2 = to.x + BOX_W * 0.5, y2 = down ? to.y - 2 : to.y + BOX_H + 2;
    const dy = Math.max(24, Math.abs(y2 - y1) / 2) * (down ? 1 : -1);
    d = "M" + x1 + "," + y1 + " C" + x1 + "," + (y1 + dy) + " " + x2 + "," + (y2 - dy) + " " + x2 + "," + y2;
  }
  const taken = s.status === "handled";
  return '<path class="edge on-error' + (taken ? " taken" : "") + '" data-from="' + esc(s.id) + '" data-to="' + esc(h) + '" data-kind="on_error" marker-end="url(#arrow-err)" d="' + d + '">' +
    "<title>" + esc("on_error of " + s.id + ": run " + h + " instead" + (byID[h] ? " (" + byID[h].status + ")" : "")) + "</title></path>";
}

function tooltip(s, rt) {
  const l = [s.id + " — " + s.status, "kind: " + s.kind + (s.tool ? " " + s.tool : "")];
  if (s.agent) l.push("agent: " + s.agent + (s.team ? " (" + s.team + ")" : ""));
  if (rt) l.push("runtime: " + rt + (s.chain && s.chain.length > 1 ? " (chain " + s.chain.join(" → ") + ")" : ""));
  if (s.on_error) l.push("on_error: " + (s.on_error.step ? "run " + s.on_error.step : s.on_error.action));
  if (s.duration_ms) l.push("duration: " + dur(s.duration_ms));
  if (s.attempts) l.push("attempts: " + s.attempts + (s.failures ? " (" + s.failures + " failed)" : ""));
  for (const h of s.hops || []) l.push("hop " + h.from + " → " + (h.to || "none") + ": " + h.reason);
  if (s.error) l.push("error: " + s.error);
  return l.join("\n");
}

// valueURL fetches one value of the run whole (the output an activity's
// completion event holds), from external storage when it is stored there.
function valueURL(t, eventID) {
  return "/api/value/" + encodeURIComponent(t.workflow_id) + "?event=" + eventID + (t.run_id ? "&run_id=" + encodeURIComponent(t.run_id) : "");
}

function select(id) {
  const t = view.data && view.data.trace;
  const s = t && t.steps.find((x) => x.id === id);
  if (!s) return;
  view.selected = id;
  for (const g of document.querySelectorAll("#graph g.step")) g.classList.toggle("selected", g.dataset.step === id);
  const ui = view.data.ui || {};
  const ev = (n) => (ui.events && n ? '<a href="' + esc(ui.events + n) + '" target="_blank" rel="noopener">event ' + n + "</a>" : n ? "event " + n : "");
  const dl = (pairs) => "<dl>" + pairs.filter((p) => p[1] !== "" && p[1] != null).map((p) => "<dt>" + esc(p[0]) + "</dt><dd>" + p[1] + "</dd>").join("") + "</dl>";
  let html = '<button class="close" aria-label="close" onclick="document.getElementById(\'panel\').hidden=true">×</button>' +
    "<h2>" + esc(s.id) + ' <span class="chip ' + esc(s.status) + '">' + esc(s.status) + "</span></h2>";
  html += dl([
    ["kind", esc(s.kind + (s.tool ? " · " + s.tool : ""))],
    ["agent", esc(s.agent || "")],
    ["team", esc([s.department, s.team].filter(Boolean).join(" / "))],
    ["runtime", esc(runtimeOf(s))],
    ["chain", esc((s.chain || []).join(" → "))],
    ["needs", esc((s.needs || []).join(", "))],
    ["on error", s.on_error ? esc(s.on_error.step ? "run " + s.on_error.step : s.on_error.action) : ""],
    ["started", esc(when(s.start))],
    ["ended", esc(when(s.end))],
    ["duration", esc(dur(s.duration_ms))],
    ["attempts", s.attempts ? esc(s.attempts + (s.failures ? " (" + s.failures + " failed)" : "")) : ""],
    ["items", s.items ? esc((s.items_done || 0) + "/" + s.items) : ""],
    ["shards", s.shards ? esc((s.shards_done || 0) + "/" + s.shards + " done") : ""],
    ["turns", s.turns ? esc(s.turns) : ""],
    ["first event", ev(s.event_id)],
  ]);
  if (s.prompt) html += "<h3>Waiting for</h3><p>" + esc(s.prompt) + "</p><pre>tars approve " + esc(t.workflow_id) + " " + esc(s.id) + "</pre>";
  if (s.error) html += '<h3>Error</h3><p class="err">' + esc(s.error) + "</p>";
  if ((s.hops || []).length) {
    html += "<h3>Hops</h3>" + s.hops.map((h) => "<div>" + esc(h.from + " → " + (h.to || "none") + ": " + h.reason) + " · " + ev(h.event_id) + (h.inferred ? " (inferred)" : "") + "</div>").join("");
  }
  if (s.approval) {
    const a = s.approval;
    html += "<h3>Approval</h3>" + dl([
      ["decision", esc(a.approved ? "approved" : "rejected")],
      ["by", esc(a.by || "")],
      ["comment", esc(a.comment || "")],
      ["timed out", a.timed_out ? "yes, the default decided" : ""],
      ["at", esc(when(a.time)) + " · " + ev(a.event_id)],
    ]);
  }
  if (s.child) {
    const c = s.child;
    html += "<h3>Child run</h3>" + dl([
      ["metascript", esc(c.workflow_type)],
      ["run", '<a href="?run=' + encodeURIComponent(c.workflow_id) + (c.run_id ? "&rid=" + encodeURIComponent(c.run_id) : "") + '">' + esc(c.workflow_id) + "</a>"],
      ["status", esc(c.status)],
      ["error", c.error ? '<span class="err">' + esc(c.error) + "</span>" : ""],
      ["started by", ev(c.event_id)],
    ]);
  }
  const shards = (t.children || []).filter((c) => c.shard && c.step === s.id);
  if (shards.length) {
    html += "<h3>Shards</h3>";
    for (const c of shards) {
      const last = c.first + Math.max(c.items, 1) - 1;
      html += '<div class="act ' + esc(c.status) + '"><a class="mono" href="?run=' + encodeURIComponent(c.workflow_id) + (c.run_id ? "&rid=" + encodeURIComponent(c.run_id) : "") + '">shard ' + esc(c.shard) + "</a> " +
        '<span class="chip ' + esc(c.status === "completed" && !c.error ? "ok" : c.status) + '">' + esc(c.status) + "</span> items " + esc((c.first || 0) + "–" + last) +
        (c.status === "completed" ? " · " + esc((c.items_done || 0) + " done") : "") +
        (c.error ? ' · <span class="err">' + esc(c.error) + "</span>" : "") + "</div>";
    }
  }
  if ((s.activities || []).length) {
    html += "<h3>Activities</h3>";
    for (const a of s.activities) {
      const m = Object.entries(a.metrics || {}).map(([k, v]) => k + "=" + v).join(" ");
      html += '<div class="act ' + esc(a.status) + '" data-activity="' + esc(a.activity_id) + '"><b class="mono">' + esc(a.activity_id) + "</b> " +
        '<span class="chip ' + esc(a.status === "completed" ? "ok" : a.status) + '">' + esc(a.status + (a.timeout ? " (" + a.timeout + ")" : "")) + "</span>" +
        dl([
          ["queue", esc(a.task_queue)],
          ["worker", esc(a.identity || "")],
          ["attempt", a.attempt ? esc(a.attempt + (a.max_attempts ? " of " + a.max_attempts : "")) : ""],
          ["queued", a.queued_ms ? esc(dur(a.queued_ms)) : ""],
          ["ran", a.ran_ms ? esc(dur(a.ran_ms)) : ""],
          ["sizes", esc("in " + bytes(a.input_bytes) + (a.input_stored ? " (stored outside the history)" : "") + (a.output_bytes ? " · out " + bytes(a.output_bytes) + (a.output_stored ? " (stored outside the history)" : "") : ""))],
          ["output", a.output_preview || (a.status === "completed" && a.output_bytes) ? '<code class="preview" data-output-preview>' + esc(a.output_preview || "") + "</code> " +
            '<a data-whole-value href="' + esc(valueURL(t, a.closed_event_id)) + '" target="_blank" rel="noopener">whole value (' + esc(bytes(a.output_bytes)) + ")</a>" : ""],
          ["pool", esc(m)],
          ["last failure", a.last_failure ? '<span class="err">' + esc(a.last_failure) + "</span>" : ""],
          ["failure", a.failure ? '<span class="err">' + esc(a.failure) + "</span>" : ""],
          ["events", [ev(a.scheduled_event_id), ev(a.started_event_id), ev(a.closed_event_id)].filter(Boolean).join(", ")],
        ]) + "</div>";
    }
  }
  const panel = $("#panel");
  panel.innerHTML = html;
  panel.hidden = false;
}

function renderTotals(t) {
  const rows = Object.entries(t.totals.runtimes || {}).sort();
  let html = "";
  if (rows.length) {
    html += "<h3>Per runtime</h3><table><tr><th>runtime</th><th>steps</th><th>activities</th><th>attempts</th><th>failed</th><th>hops</th><th>busy</th><th>queued</th></tr>" +
      rows.map(([rt, x]) => '<tr data-runtime-total="' + esc(rt) + '"><td>' + esc(rt) + '</td><td class="num">' + x.steps + '</td><td class="num">' + x.activities + '</td><td class="num">' + x.attempts +
        '</td><td class="num">' + x.failures + '</td><td class="num">' + (x.hops || 0) + '</td><td class="num">' + dur(x.busy_ms) + '</td><td class="num">' + dur(x.queued_ms) + "</td></tr>").join("") + "</table>";
  }
  $("#totals").innerHTML = html;
  const hops = t.hops || [];
  $("#hops").innerHTML = hops.length ? "<h3>Hops</h3><table><tr><th>step</th><th>from</th><th>to</th><th>why</th></tr>" +
    hops.map((h) => "<tr><td>" + esc(h.step) + "</td><td>" + esc(h.from) + "</td><td>" + esc(h.to || "none") + "</td><td>" + esc(h.reason) + "</td></tr>").join("") + "</table>" : "";
}

// ---- wiring ----

document.addEventListener("click", (ev) => {
  const a = ev.target.closest("#runs a[data-wid]");
  if (!a) return;
  ev.preventDefault();
  openRun(a.dataset.wid, a.dataset.rid, true);
});
$("#filter").addEventListener("input", (ev) => { view.filter = ev.target.value; renderRuns(); });
window.addEventListener("popstate", () => fromURL());

function fromURL() {
  const q = new URLSearchParams(location.search);
  const wid = q.get("run");
  view.wantStep = q.get("step") || "";
  if (wid) openRun(wid, q.get("rid") || "", false);
}

loadRuns();
setInterval(loadRuns, 5000);
fromURL();
