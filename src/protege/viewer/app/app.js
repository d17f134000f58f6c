// protege view: the single page. Talks to the JSON API of protege/viewer/api.py, or reads the same
// answers embedded in the page (protege view --static). Plots are drawn on canvases by the code below;
// nothing is fetched from outside the server, so it works offline.
"use strict";

const EMBED = (() => { const el = document.getElementById("protege-data"); return el ? JSON.parse(el.textContent) : null; })();
const SOURCE = { EXPERT: 0, POLICY: 1, HUMAN: 2 };
const COLORS = ["#2d6cdf", "#d35400", "#27ae60", "#8e44ad", "#c0392b", "#16a085", "#7f8c8d"];

// --- data access ------------------------------------------------------------------------------
function apiKey(route, params) {
  return route + "?" + Object.keys(params).sort().map(k => k + "=" + params[k]).join("&");
}
async function api(route, params = {}) {
  if (EMBED) {
    const k = apiKey(route, params);
    if (!(k in EMBED)) throw new Error("not included in this file (write it with more --static-episodes, or use protege view PATH)");
    const v = EMBED[k];
    if (v && v.error) throw new Error(v.error);
    return v;
  }
  const qs = new URLSearchParams(params).toString();
  const r = await fetch(route + (qs ? "?" + qs : ""));
  const body = await r.json().catch(() => ({ error: r.status + " " + r.statusText }));
  if (!r.ok) throw new Error(body.error || r.statusText);
  return body;
}
function fileUrl(rel) {
  if (EMBED) return EMBED["/files/" + rel] || null;
  return "/files/" + rel.split("/").map(encodeURIComponent).join("/");
}

// --- DOM helpers -------------------------------------------------------------------------------
function h(tag, attrs = {}, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "text") el.textContent = v;
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of kids.flat()) if (c !== null && c !== undefined) el.append(c.nodeType ? c : String(c));
  return el;
}
const esc = s => String(s).replace(/[&<>"]/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const fmt = (x, d = 3) => (x === null || x === undefined) ? "–" : (typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toPrecision(d)) : String(x));
const pct = x => (x === null || x === undefined) ? "–" : (100 * x).toFixed(0) + "%";
const card = (k, v) => h("div", { class: "card" }, h("div", { class: "k", text: k }), h("div", { class: "v", text: v }));
const link = (hash, text) => h("a", { href: hash, text });
const viewHash = p => "#view=" + encodeURIComponent(p);
function errorBox(e) { return h("p", { class: "error", text: String(e.message || e) }); }
function kvTable(obj) {
  const t = h("table", { class: "kv" });
  for (const [k, v] of Object.entries(obj || {})) {
    t.append(h("tr", {}, h("td", { class: "k", text: k }), h("td", { text: typeof v === "object" && v !== null ? JSON.stringify(v) : fmt(v, 5) })));
  }
  return t;
}

// --- plots -------------------------------------------------------------------------------------
function setupCanvas(canvas, w, hgt) {
  const r = window.devicePixelRatio || 1;
  canvas.width = w * r; canvas.height = hgt * r; canvas.style.width = w + "px"; canvas.style.height = hgt + "px";
  const ctx = canvas.getContext("2d"); ctx.setTransform(r, 0, 0, r, 0, 0); return ctx;
}
function range(arrays, extra = []) {
  let lo = Infinity, hi = -Infinity;
  for (const a of arrays) for (const v of a) if (v !== null && Number.isFinite(v)) { if (v < lo) lo = v; if (v > hi) hi = v; }
  for (const v of extra) if (v !== null && v !== undefined && Number.isFinite(v)) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (!Number.isFinite(lo)) { lo = 0; hi = 1; }
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  const pad = 0.06 * (hi - lo); return [lo - pad, hi + pad];
}
// A line chart: lines [{x?, y, color, dash, width}], optional bands [{lo, hi}] per x (an interval), axis labels;
// opts.log: a logarithmic y axis (values <= 0 are left out).
function lineChart(w, hgt, lines, opts = {}) {
  if (opts.log) {
    const lg = v => (v === null || v === undefined || !(v > 0)) ? null : Math.log10(v);
    return lineChart(w, hgt, lines.map(l => ({ ...l, y: l.y.map(lg) })), { ...opts, log: false, ytick: v => fmt(10 ** v, 2) });
  }
  const canvas = h("canvas"); const ctx = setupCanvas(canvas, w, hgt);
  const L = 46, R = 8, T = 8, B = 26, pw = w - L - R, ph = hgt - T - B;
  const xs = lines.flatMap(l => l.x || l.y.map((_, i) => i));
  const [x0, x1] = range([xs]); const [y0, y1] = opts.yrange || range(lines.map(l => l.y).concat(opts.bands ? opts.bands.flatMap(b => [b.lo, b.hi]) : []));
  const X = x => L + (x - x0) / (x1 - x0) * pw, Y = y => T + (1 - (y - y0) / (y1 - y0)) * ph;
  ctx.strokeStyle = "#ccd"; ctx.fillStyle = "#667"; ctx.font = "10px sans-serif"; ctx.lineWidth = 1;
  ctx.strokeRect(L, T, pw, ph);
  for (let k = 0; k <= 4; k++) { const v = y0 + (y1 - y0) * k / 4; ctx.fillText((opts.ytick || (u => fmt(u, 3)))(v), 2, Y(v) + 3); }
  for (let k = 0; k <= 4; k++) { const v = x0 + (x1 - x0) * k / 4; ctx.fillText(fmt(v, 3), X(v) - 10, hgt - 12); }
  if (opts.xlabel) ctx.fillText(opts.xlabel, L + pw / 2 - 30, hgt - 1);
  for (const b of opts.bands || []) {
    ctx.fillStyle = b.color || "rgba(45,108,223,0.15)"; ctx.beginPath();
    b.x.forEach((x, i) => i ? ctx.lineTo(X(x), Y(b.hi[i])) : ctx.moveTo(X(x), Y(b.hi[i])));
    for (let i = b.x.length - 1; i >= 0; i--) ctx.lineTo(X(b.x[i]), Y(b.lo[i]));
    ctx.fill();
  }
  lines.forEach((l, j) => {
    ctx.strokeStyle = l.color || COLORS[j % COLORS.length]; ctx.lineWidth = l.width || 1.5; ctx.setLineDash(l.dash || []);
    ctx.beginPath(); let on = false;
    l.y.forEach((v, i) => { const x = l.x ? l.x[i] : i; if (v === null || !Number.isFinite(v)) { on = false; return; }
      if (on) ctx.lineTo(X(x), Y(v)); else { ctx.moveTo(X(x), Y(v)); on = true; } });
    ctx.stroke(); if (l.dots) { ctx.fillStyle = ctx.strokeStyle; l.y.forEach((v, i) => { if (v !== null) { ctx.beginPath(); ctx.arc(X(l.x ? l.x[i] : i), Y(v), 2.5, 0, 7); ctx.fill(); } }); }
  });
  ctx.setLineDash([]);
  if (opts.legend) opts.legend.forEach((name, j) => { ctx.fillStyle = lines[j].color || COLORS[j % COLORS.length]; ctx.fillText(name, L + 6, T + 12 + 12 * j); });
  return canvas;
}
function histogram(hst, w = 190, hgt = 70) {
  const canvas = h("canvas"); const ctx = setupCanvas(canvas, w, hgt);
  const max = Math.max(1, ...hst.counts), n = hst.counts.length, bw = (w - 4) / n;
  ctx.fillStyle = "#5b8def";
  hst.counts.forEach((c, i) => { const bh = (hgt - 16) * c / max; ctx.fillRect(2 + i * bw, hgt - 14 - bh, Math.max(1, bw - 1), bh); });
  ctx.fillStyle = "#667"; ctx.font = "10px sans-serif";
  ctx.fillText(fmt(hst.lo), 2, hgt - 2); const hiText = fmt(hst.hi); ctx.fillText(hiText, w - 4 - ctx.measureText(hiText).width, hgt - 2);
  return canvas;
}

// --- the episode page: synchronised frames and series ------------------------------------------
// One time-series plot per dimension, drawn once into an image; moving the cursor redraws image + line.
class SeriesPlot {
  constructor(series, ep, w = 300, hgt = 96) {
    this.s = series; this.ep = ep; this.w = w; this.hgt = hgt; this.T = ep.length;
    this.canvas = h("canvas", { "data-points": series.values.length }); this.ctx = setupCanvas(this.canvas, w, hgt);
    this.L = 40; this.R = 4; this.Tp = 4; this.B = 14;
    this.drawBase(); this.base = this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height);
  }
  X(t) { return this.L + t / Math.max(1, this.T - 1) * (this.w - this.L - this.R); }
  drawBase() {
    const { ctx, s, ep, w, hgt } = this, ph = hgt - this.Tp - this.B;
    const [y0, y1] = range([s.values, s.label || []], [s.low, s.high]);
    const Y = v => this.Tp + (1 - (v - y0) / (y1 - y0)) * ph;
    const step = (this.w - this.L - this.R) / Math.max(1, this.T - 1);
    const shade = (mask, color) => { if (!mask) return; ctx.fillStyle = color;  // one rectangle per run of steps
      for (let t = 0; t < this.T; t++) { if (!mask(t)) continue; let e = t; while (e + 1 < this.T && mask(e + 1)) e++;
        const x0 = Math.max(this.L, this.X(t) - step / 2), x1 = Math.min(this.w - this.R, this.X(e) + step / 2);
        ctx.fillRect(x0, this.Tp, x1 - x0, ph); t = e; } };
    const src = ep.source, iv = ep.intervened;
    const mixed = src && src.some(v => v !== src[0]);
    shade(src && mixed ? t => src[t] === SOURCE.EXPERT : null, getComputedStyle(document.body).getPropertyValue("--expert") || "rgba(45,108,223,.13)");
    shade(src ? t => src[t] === SOURCE.HUMAN : null, "rgba(230,126,34,0.22)");
    shade(iv ? t => iv[t] === 1 : null, "rgba(214,48,49,0.16)");
    ctx.strokeStyle = "#d0d4da"; ctx.lineWidth = 1; ctx.strokeRect(this.L, this.Tp, w - this.L - this.R, ph);
    ctx.fillStyle = "#667"; ctx.font = "10px sans-serif";
    ctx.fillText(fmt(y1 - 0.06 / 1.12 * (y1 - y0), 3), 1, this.Tp + 9); ctx.fillText(fmt(y0 + 0.06 / 1.12 * (y1 - y0), 3), 1, this.Tp + ph - 1);
    ctx.fillText("0", this.L, hgt - 2); const end = String(this.T - 1); ctx.fillText(end, w - this.R - ctx.measureText(end).width, hgt - 2);
    if (s.low !== undefined) { ctx.setLineDash([2, 3]); ctx.strokeStyle = "#999";
      for (const b of [s.low, s.high]) { ctx.beginPath(); ctx.moveTo(this.L, Y(b)); ctx.lineTo(w - this.R, Y(b)); ctx.stroke(); } ctx.setLineDash([]); }
    const line = (vals, color, dash) => { ctx.strokeStyle = color; ctx.lineWidth = 1.4; ctx.setLineDash(dash); ctx.beginPath(); let on = false;
      vals.forEach((v, t) => { if (v === null) { on = false; return; } if (on) ctx.lineTo(this.X(t), Y(v)); else { ctx.moveTo(this.X(t), Y(v)); on = true; } });
      ctx.stroke(); ctx.setLineDash([]); };
    line(s.values, "#1f4fa3", []);
    if (s.label) line(s.label, "#e67e22", [4, 3]);
  }
  cursor(t) {
    this.ctx.putImageData(this.base, 0, 0);
    const x = this.X(t); this.ctx.strokeStyle = "#c0392b"; this.ctx.lineWidth = 1;
    this.ctx.beginPath(); this.ctx.moveTo(x, this.Tp); this.ctx.lineTo(x, this.hgt - this.B); this.ctx.stroke();
  }
  tAt(clientX) { const r = this.canvas.getBoundingClientRect(); const f = (clientX - r.left - this.L) / (this.w - this.L - this.R);
    return Math.max(0, Math.min(this.T - 1, Math.round(f * (this.T - 1)))); }
}

class Player {
  // Frames of each camera (decoded <img>s) and the plots, all following one step counter t.
  constructor(ep, root) {
    this.ep = ep; this.root = root; this.t = 0; this.playing = false; this.speed = 1; this.plots = []; this.cams = {};
    this.last = 0; this.acc = 0; this.fps = ep.fps > 0 ? ep.fps : 10;
    this.tmax = ep.length - 1;
    this.drawn = 0;
  }
  async addCamera(key, data, canvas) {
    const imgs = data.png.map(b => { const im = new Image(); im.src = "data:image/png;base64," + b; return im; });
    await Promise.all(imgs.map(im => im.decode().catch(() => null)));  // every frame ready before playing
    const ctx = canvas.getContext("2d"); ctx.imageSmoothingEnabled = false;  // pixels as recorded, not blurred
    this.cams[key] = { t: data.t, imgs, canvas, ctx };
    this.tmax = Math.max(this.tmax, data.t[data.t.length - 1] || 0);
    this.slider.max = this.tmax; this.show();
  }
  frameFor(cam, t) { // the last frame at or before step t (frames may be subsampled)
    let lo = 0, hi = cam.t.length - 1; while (lo < hi) { const m = (lo + hi + 1) >> 1; if (cam.t[m] <= t) lo = m; else hi = m - 1; } return lo;
  }
  show() {
    const t = this.t;
    for (const cam of Object.values(this.cams)) {
      const im = cam.imgs[this.frameFor(cam, t)];
      if (im && im.complete && im.naturalWidth) { cam.ctx.drawImage(im, 0, 0, cam.canvas.width, cam.canvas.height); this.drawn++; }
    }
    for (const p of this.plots) p.cursor(Math.min(t, p.T - 1));
    this.root.dataset.t = t; this.root.dataset.framesDrawn = this.drawn;
    if (this.slider) this.slider.value = t;
    if (this.label) this.label.textContent = `t = ${t} / ${this.tmax}  (${(t / this.fps).toFixed(2)} s)` + this.whoActed(t);
  }
  whoActed(t) {
    const ep = this.ep, parts = [];
    if (ep.source && t < ep.source.length) parts.push(["expert", "policy", "human"][ep.source[t]] + " acted");
    if (ep.intervened && ep.intervened[t]) parts.push("intervention");
    if (ep.label_mask && ep.label_mask[t]) parts.push("expert label");
    return parts.length ? "  · " + parts.join(", ") : "";
  }
  seek(t) { this.t = Math.max(0, Math.min(this.tmax, t)); this.show(); }
  toggle() { this.playing = !this.playing; this.button.textContent = this.playing ? "❚❚ pause" : "▶ play";
    this.root.dataset.playing = this.playing; if (this.playing) { if (this.t >= this.tmax) this.t = 0; this.last = performance.now(); this.tick(); } }
  // timers rather than animation frames: steps advance at the recorded rate (and in a headless
  // browser's virtual time, which the browser test runs on)
  tick() {
    if (!this.playing) return;
    const now = performance.now();
    this.acc += (now - this.last) / 1000 * this.fps * this.speed; this.last = now;
    if (this.acc >= 1) { const n = Math.floor(this.acc); this.acc -= n; this.t = Math.min(this.tmax, this.t + n); this.show(); }
    if (this.t >= this.tmax) { this.toggle(); return; }
    setTimeout(() => this.tick(), Math.max(4, 1000 / (this.fps * this.speed)));
  }
  controls() {
    this.button = h("button", { onclick: () => this.toggle(), id: "play", text: "▶ play" });
    this.slider = h("input", { type: "range", min: 0, max: this.tmax, value: 0, oninput: e => this.seek(+e.target.value) });
    const speed = h("select", { onchange: e => { this.speed = +e.target.value; } },
      ...[0.25, 0.5, 1, 2, 4].map(s => h("option", { value: s, selected: s === 1, text: s + "×" })));
    this.label = h("span", { class: "muted" });
    document.onkeydown = e => { if (e.target.tagName === "INPUT" && e.target.type !== "range") return;
      if (e.key === " ") { e.preventDefault(); this.toggle(); } else if (e.key === "ArrowRight") this.seek(this.t + 1); else if (e.key === "ArrowLeft") this.seek(this.t - 1); };
    return h("div", { class: "controls" }, this.button, this.slider, speed, this.label);
  }
}

async function renderEpisode(main, p, i, autoplay) {
  const [ep, idx] = await Promise.all([api("/api/episode", { p, i }), api("/api/episodes", { p }).catch(() => null)]);
  const n = idx ? idx.rows.length : null;
  const nav = h("div", { class: "controls" }, link(viewHash(p), "← all episodes"),
    i > 0 ? link(`#episode=${encodeURIComponent(p)}&i=${i - 1}`, "‹ previous") : null,
    n !== null && i < n - 1 ? link(`#episode=${encodeURIComponent(p)}&i=${i + 1}`, "next ›") : null);
  const src = ep.source || [];
  const count = k => src.filter(v => v === k).length;
  main.append(nav, h("h1", {}, `Episode ${i}`, h("span", { class: "kind", text: ep.success ? "success" : "failure" })));
  const cards = h("div", { class: "cards" }, card("steps", ep.length), card("success", ep.success ? "yes" : "no"));
  if (ep.task) cards.append(card("task", ep.task));
  if (ep.instruction) cards.append(card("instruction", ep.instruction));
  for (const k of ["seed", "round"]) if (ep.info && ep.info[k] !== undefined) cards.append(card(k, ep.info[k]));
  if (ep.source) cards.append(card("expert / policy / human steps", `${count(0)} / ${count(1)} / ${count(2)}`));
  if (ep.intervened) cards.append(card("intervened steps", ep.intervened.filter(v => v).length));
  if (ep.label_mask) cards.append(card("expert labels", ep.label_mask.filter(v => v).length));
  const ret = ep.series.find(s => s.group === "reward"); if (ret) cards.append(card("return", fmt(ret.values.reduce((a, b) => a + b, 0), 4)));
  main.append(cards);

  const root = h("div", { id: "player", "data-t": 0, "data-frames-drawn": 0 });
  const player = new Player(ep, root);
  main.append(root);
  root.append(player.controls());
  const camRow = h("div", { class: "player" }); root.append(camRow);
  const legend = h("p", { class: "legend muted" },
    h("span", {}, h("span", { class: "sw", style: "background:#1f4fa3" }), "executed / observed"),
    ep.series.some(s => s.label) ? h("span", {}, h("span", { class: "sw", style: "background:#e67e22" }), "expert label (dashed)") : null,
    src.length && src.some(v => v !== src[0]) ? h("span", {}, h("span", { class: "sw", style: "background:rgba(45,108,223,.25)" }), "expert acted") : null,
    src.includes(SOURCE.HUMAN) ? h("span", {}, h("span", { class: "sw", style: "background:rgba(230,126,34,.35)" }), "person acted") : null,
    ep.intervened && ep.intervened.some(v => v) ? h("span", {}, h("span", { class: "sw", style: "background:rgba(214,48,49,.3)" }), "intervention") : null,
    "click a plot to seek; space plays, ← → step");
  root.append(legend);
  const groups = {};
  for (const s of ep.series) (groups[s.group] = groups[s.group] || []).push(s);
  const plotsEl = h("div", { id: "plots" }); root.append(plotsEl);
  for (const [g, list] of Object.entries(groups)) {
    plotsEl.append(h("h3", { text: g + (ep.dims_cut[g] ? ` (first ${list.length} of ${ep.dims_cut[g]} dimensions)` : "") }));
    const grid = h("div", { class: "grid" }); plotsEl.append(grid);
    for (const s of list) {
      const plot = new SeriesPlot(s, ep); player.plots.push(plot);
      const drag = e => { if (e.buttons === 1 || e.type === "mousedown") player.seek(plot.tAt(e.clientX)); };
      plot.canvas.addEventListener("mousedown", drag); plot.canvas.addEventListener("mousemove", drag);
      grid.append(h("div", { class: "plot" }, h("div", { class: "t", text: s.name }), plot.canvas));
    }
  }
  plotsEl.dataset.plots = player.plots.length;
  player.show();
  const camKeys = Object.keys(ep.cameras);
  if (!camKeys.length) camRow.append(h("p", { class: "muted", text: "no cameras in this dataset: the plots are the episode" }));
  await Promise.all(camKeys.map(async key => {
    const [H, W] = ep.cameras[key].shape; const scale = Math.max(1, Math.floor(320 / Math.max(H, W)));
    const canvas = h("canvas", { class: "cam", width: W * scale, height: H * scale, "data-key": key });
    const box = h("div", {}, h("div", { class: "muted", text: `${key} (${W}×${H}, ${ep.cameras[key].frames} frames)` }), canvas);
    camRow.append(box);
    try { await player.addCamera(key, await api("/api/frames", { p, i, key }), canvas); } catch (e) { box.append(errorBox(e)); }
  }));
  root.dataset.ready = "1";
  if (autoplay && !player.playing) player.toggle();
}

// --- dataset page: episode list with filters, statistics and warnings ---------------------------
async function renderDataset(main, v, p, tab = "Episodes") {
  main.append(h("div", { class: "cards" }, card("format", v.format), card("task", v.task || "–"), card("episodes", v.episodes),
    card("steps", v.steps), card("successes", `${v.successes} / ${v.episodes}`), card("fps", fmt(v.fps)),
    card("action", v.action), card("observation", Object.entries(v.observation).map(([k, s]) => `${k}: ${s}`).join(", "))));
  const tabs = h("div", { class: "tabs" }); const body = h("div"); main.append(tabs, body);
  const show = async name => { for (const b of tabs.children) b.classList.toggle("on", b.textContent === name); body.replaceChildren();
    try { await (name === "Episodes" ? episodeList(body, p) : statistics(body, p)); } catch (e) { body.append(errorBox(e)); } };
  for (const name of ["Episodes", "Statistics"]) tabs.append(h("button", { onclick: () => show(name), text: name }));
  await show(tab);
}

async function episodeList(body, p) {
  const idx = await api("/api/episodes", { p });
  const C = Object.fromEntries(idx.columns.map((c, j) => [c, j]));
  const rows = idx.rows;
  const hasRound = rows.some(r => r[C.round] !== null), hasReturn = rows.some(r => r[C.return] !== null);
  const text = h("input", { type: "search", placeholder: "filter: task, seed, round, index…", size: 28 });
  const success = h("select", {}, ...[["", "success: any"], ["1", "successes"], ["0", "failures"]].map(([v, t]) => h("option", { value: v, text: t })));
  const who = h("select", {}, ...[["", "who acted: any"], ["policy", "policy acted"], ["human", "a person acted"], ["interv", "with interventions"], ["labels", "with expert labels"], ["expert", "expert only"]].map(([v, t]) => h("option", { value: v, text: t })));
  const minL = h("input", { type: "number", placeholder: "min length", style: "width:7em" }), maxL = h("input", { type: "number", placeholder: "max length", style: "width:7em" });
  const shown = h("span", { class: "muted" });
  const table = h("table", { id: "episodes" }); const wrap = h("div", { class: "tablewrap" }, table);
  body.append(h("div", { class: "filters" }, text, success, who, minL, maxL, shown), wrap);
  const heads = ["#", "length", "success"].concat(hasReturn ? ["return"] : [], ["expert", "policy", "human", "interventions", "labels", "task"], hasRound ? ["round"] : [], ["seed"]);
  const draw = () => {
    const q = text.value.trim().toLowerCase(), s = success.value, w = who.value, lo = minL.value === "" ? -Infinity : +minL.value, hi = maxL.value === "" ? Infinity : +maxL.value;
    const keep = rows.filter(r => {
      if (s !== "" && String(+r[C.success]) !== s) return false;
      if (r[C.length] < lo || r[C.length] > hi) return false;
      if (w === "policy" && !r[C.policy_steps]) return false; if (w === "human" && !r[C.human_steps]) return false;
      if (w === "interv" && !r[C.interventions]) return false; if (w === "labels" && !r[C.labels]) return false;
      if (w === "expert" && (r[C.policy_steps] || r[C.human_steps])) return false;
      if (q && ![r[C.index], r[C.task], r[C.seed], r[C.round]].some(x => x !== null && String(x).toLowerCase().includes(q))) return false;
      return true; });
    const html = ["<thead><tr>" + heads.map((c, j) => `<th class="${c === "task" ? "l" : ""}">${c}</th>`).join("") + "</tr></thead><tbody>"];
    for (const r of keep) {
      const cells = [r[C.index], r[C.length], r[C.success] ? '<span class="ok">✓</span>' : '<span class="bad">✗</span>']
        .concat(hasReturn ? [fmt(r[C.return], 4)] : [], [r[C.expert_steps], r[C.policy_steps], r[C.human_steps],
          r[C.interventions] ? `${r[C.interventions]} (${r[C.intervened_steps]} steps)` : "0", r[C.labels], esc(r[C.task] ?? "–")],
          hasRound ? [r[C.round] ?? "–"] : [], [r[C.seed] ?? "–"]);
      html.push(`<tr class="link" data-i="${r[C.index]}">` + cells.map((c, j) => `<td class="${heads[j] === "task" ? "l" : ""}">${c}</td>`).join("") + "</tr>");
    }
    table.innerHTML = html.join("") + "</tbody>";
    shown.textContent = `${keep.length} of ${rows.length} episodes`;
    if (!table.dataset.firstMs) table.dataset.firstMs = Math.round(performance.now());  // time to the list (benchmarks/viewer.py)
  };
  table.addEventListener("click", e => { const tr = e.target.closest("tr[data-i]"); if (tr) location.hash = `#episode=${encodeURIComponent(p)}&i=${tr.dataset.i}`; });
  for (const el of [text, success, who, minL, maxL]) el.addEventListener("input", draw);
  draw();
}

async function statistics(body, p) {
  body.append(h("p", { class: "muted", text: "reading every episode…" }));
  const st = await api("/api/stats", { p });
  body.replaceChildren(h("h2", { text: `Warnings (${st.warnings.length})` }));
  if (!st.warnings.length) body.append(h("p", { class: "muted", text: "nothing unusual: no constant dimension, no outlier episode, no action stuck at its bounds" }));
  const ul = h("ul", { class: "warn", id: "warnings" }); body.append(ul);
  for (const w of st.warnings) ul.append(h("li", { class: w.episode !== undefined ? "link" : "", text: w.message,
    onclick: w.episode !== undefined ? () => { location.hash = `#episode=${encodeURIComponent(p)}&i=${w.episode}`; } : null }));
  body.append(h("h2", { text: `Histograms (${st.steps} steps)` }));
  const groups = {}; for (const hs of st.histograms) (groups[hs.group] = groups[hs.group] || []).push(hs);
  for (const [g, list] of Object.entries(groups)) {
    body.append(h("h3", { text: g })); const grid = h("div", { class: "grid" }); body.append(grid);
    for (const hs of list) grid.append(h("div", { class: "plot" }, h("div", { class: "t", text: `${hs.name}  μ ${fmt(hs.mean)} σ ${fmt(hs.std)}` }), histogram(hs)));
  }
}

// --- runs ---------------------------------------------------------------------------------------
function childLinks(kids) {
  if (!kids || !kids.length) return null;
  return h("ul", {}, ...kids.map(c => h("li", {}, link(viewHash(c.path), c.name), h("span", { class: "kind", text: c.kind }))));
}

async function renderDagger(main, v) {
  const c = v.config || {};
  main.append(h("div", { class: "cards" }, card("task", c.task || "–"), card("gate", c.gate || "–"), card("rounds", v.rounds.length),
    card("total expert labels", v.rounds.length ? v.rounds[v.rounds.length - 1].total_labels : 0)));
  if (v.rounds.length) {
    const R = v.rounds;
    const x = R.map(r => r.total_labels);
    main.append(h("div", { class: "grid" },
      h("div", { class: "plot" }, h("div", { class: "t", text: "success after each round (95% interval) against expert labels so far" }),
        lineChart(460, 220, [{ x, y: R.map(r => 100 * r.success_rate), dots: true }], { xlabel: "expert labels (total)", yrange: [-3, 103],
          bands: [{ x, lo: R.map(r => 100 * r.ci_low), hi: R.map(r => 100 * r.ci_high) }] })),
      h("div", { class: "plot" }, h("div", { class: "t", text: "per round: expert labels, interventions, expert steps" }),
        lineChart(460, 220, [{ x: R.map(r => r.round), y: R.map(r => r.expert_labels), dots: true }, { x: R.map(r => r.round), y: R.map(r => r.interventions), dots: true },
          { x: R.map(r => r.round), y: R.map(r => r.expert_steps), dots: true, dash: [4, 3] }], { xlabel: "round", legend: ["labels", "interventions", "expert steps"] }))));
    const t = h("table", { id: "rounds" }, h("thead", {}, h("tr", {}, ...["round", "episodes", "labels (round / total)", "interventions", "expert steps", "switches", "env steps", "success [95% CI]"].map(s => h("th", { text: s })))));
    const tb = h("tbody"); t.append(tb);
    for (const r of R) tb.append(h("tr", {}, ...[r.round, r.episodes, `${r.expert_labels} / ${r.total_labels}`, r.interventions, r.expert_steps, r.context_switches, r.env_steps,
      `${r.successes}/${r.eval_episodes} = ${pct(r.success_rate)} [${pct(r.ci_low)}, ${pct(r.ci_high)}]`].map(s => h("td", { text: s }))));
    main.append(h("h2", { text: "Rounds" }), t);
  } else main.append(h("p", { class: "muted", text: "no finished round yet (rounds.json is written after each round)" }));
  main.append(h("h2", { text: "In this run" }), childLinks(v.children));
  const data = (v.children || []).find(c => c.kind === "dataset");
  if (data) { main.append(h("h2", { text: "Aggregated data (demonstrations and every collected episode)" }));
    const sub = await api("/api/view", { p: data.path }); await renderDataset(main, sub, data.path); }
}

function renderDart(main, v) {
  const c = v.config || {}, R = v.rounds;
  main.append(h("div", { class: "cards" }, card("task", c.task || "–"), card("policy", c.policy || "–"), card("rounds", R.length),
    card("expert labels", R.reduce((s, r) => s + r.labelled_steps, 0))));
  if (R.length) {
    const t = h("table", { id: "rounds" }, h("thead", {}, h("tr", {}, ...["round", "episodes", "labels (recorded steps)", "noise", "learner error after it", "successful episodes"].map(s => h("th", { text: s })))));
    const tb = h("tbody"); t.append(tb);
    for (const r of R) tb.append(h("tr", {}, ...[r.round, r.episodes, `${r.labelled_steps} (${r.recorded_steps})`, r.noise.toFixed(3),
      `${r.learner_error.toFixed(3)} (${r.error_on})`, `${r.successes}/${r.episodes}`].map(s => h("td", { text: s }))));
    main.append(h("h2", { text: "Rounds (noise: a fraction of the action half-range)" }), t);
  } else main.append(h("p", { class: "muted", text: "no finished round yet (dart.json is written after each round)" }));
  main.append(h("h2", { text: "In this run" }), childLinks(v.children));
}

function renderRL(main, v) {
  const C = v.curve;
  main.append(h("div", { class: "cards" }, card("algorithm", v.algo === "dapg" ? "DAPG" : "RL (" + ((v.config.rl || {}).algo || "?") + ")"),
    card("task", v.config.task || "–"), card("iterations", C.length), card("env steps", C.length ? C[C.length - 1].env_steps : 0),
    card("last sampled success", C.length ? pct(C[C.length - 1].success_rate) : "–")));
  if (!C.length) { main.append(h("p", { class: "muted", text: "no finished iteration yet" })); return; }
  const x = C.map(r => r.env_steps);
  const grid = h("div", { class: "grid", id: "curves" }); main.append(h("h2", { text: "Learning curves" }), grid);
  const panel = (title, key, scale = 1, w = 460) => { if (!C.some(r => r[key] !== undefined)) return;
    grid.append(h("div", { class: "plot" }, h("div", { class: "t", text: title }), lineChart(w, 220, [{ x, y: C.map(r => r[key] === undefined ? null : scale * r[key]) }], { xlabel: "environment steps" }))); };
  panel("success rate of sampled episodes (%)", "success_rate", 100); panel("mean return", "mean_return");
  for (const k of ["demo_weight", "kl", "value_loss", "std_mean"]) panel(k, k, 1, 300);
  main.append(h("h2", { text: "In this run" }), childLinks(v.children), h("h3", { text: "configuration" }), kvTable(v.config.rl));
}

async function renderCheckpoint(main, v) {
  main.append(h("div", { class: "cards" }, card("policy", v.policy), card("action", v.spec.action), card("fps", fmt(v.spec.fps)),
    card("best validation loss", fmt(v.best_val_loss, 4)), card("at step", fmt(v.best_step)),
    card("observation", Object.entries(v.spec.observation).map(([k, s]) => `${k}: ${s}`).join(", "))));
  if (v.history && v.history.length) renderHistory(main, v.history, v.best_step);
  else main.append(h("p", { class: "muted", text: "no training history beside this checkpoint (protege train writes history.json at each validation point)" }));
  for (const c of v.children || []) { main.append(h("h2", {}, "Evaluation ", link(viewHash(c.path), c.name)));
    try { await renderEval(main, await api("/api/view", { p: c.path })); } catch (e) { main.append(errorBox(e)); } }
  for (const s of ["dataset", "train", "policy_config", "encoder", "dagger", "rl"]) if (v[s]) main.append(h("h3", { text: s }), kvTable(v[s]));
}

// Training history (history.json): loss and validation loss (and each task's) over step, learning rate, speed.
function renderHistory(main, H, bestStep) {
  const x = H.map(r => r.step), val = k => H.map(r => (r[k] === undefined ? null : r[k]));
  const tasks = [...new Set(H.flatMap(r => Object.keys(r).filter(k => k.startsWith("val_loss/"))))].sort();
  const lines = [{ x, y: val("train_loss") }, { x, y: val("val_loss"), dots: true, width: 2 }]
    .concat(tasks.map(k => ({ x, y: val(k), dash: [4, 3], width: 1 })));
  const legend = ["train loss (mean since the previous point)", "validation loss" + (tasks.length ? " (all tasks)" : "")]
    .concat(tasks.map(k => "validation: " + k.slice("val_loss/".length)));
  const positive = lines.every(l => l.y.every(v => v === null || v > 0));
  const grid = h("div", { class: "grid", id: "history", "data-points": H.length, "data-lines": lines.length });
  grid.append(h("div", { class: "plot" }, h("div", { class: "t", text: `loss against step${positive ? " (log scale)" : ""}; best validation at step ${fmt(bestStep)}` }),
    lineChart(560, 260, lines, { xlabel: "step", legend, log: positive })));
  if (H.some(r => r.lr !== undefined)) grid.append(h("div", { class: "plot" }, h("div", { class: "t", text: "learning rate" }), lineChart(300, 160, [{ x, y: val("lr") }], { xlabel: "step" })));
  if (H.some(r => r.samples_per_s !== undefined)) grid.append(h("div", { class: "plot" }, h("div", { class: "t", text: "training samples per second" }), lineChart(300, 160, [{ x, y: val("samples_per_s") }], { xlabel: "step" })));
  main.append(h("h2", { text: `Training history (${H.length} validation points)` }), grid);
}

function renderEval(main, v) {
  const ci = h("span", { class: "ci" }, h("span", { class: "band", style: `left:${100 * v.ci_low}%;width:${100 * (v.ci_high - v.ci_low)}%` }), h("span", { class: "pt", style: `left:${100 * v.success_rate}%` }));
  main.append(h("p", { style: "font-size:18px", id: "eval-summary" }, `success ${v.successes}/${v.episodes} = ${pct(v.success_rate)} [${pct(v.ci_low)}, ${pct(v.ci_high)}] (95% Wilson)`, ci),
    h("div", { class: "cards" }, card("who", v.who || "–"), card("task", v.task || "–"), card("mean return", fmt(v.mean_return, 4)), card("mean length", fmt(v.mean_length, 4))));
  let video = null; const segs = {};
  if (v.video && v.video.segments) {
    const src = fileUrl(v.video.path);
    if (src) { video = h("video", { controls: true, src, preload: "metadata" }); main.append(video,
      h("p", { class: "muted", text: `the video holds the first ${v.video.segments.length} of ${v.episodes} episodes (protege eval --video-episodes)` })); }
    for (const s of v.video.segments) segs[s.episode] = s;
  } else if (v.video_missing) main.append(h("p", { class: "muted", text: v.video_missing }));
  else if (v.video && v.video.error) main.append(h("p", { class: "error", text: v.video.error }));
  let stopAt = null;
  if (video) video.addEventListener("timeupdate", () => { if (stopAt !== null && video.currentTime >= stopAt) { video.pause(); stopAt = null; } });
  // every rollout's own video (protege eval --videos), in the table's order: failures first
  const own = v.per_episode.filter(r => r.video), tiles = {};
  if (own.length) {
    const failed = own.filter(r => !r.success).length;
    const grid = h("div", { class: "videos", id: "rollouts" });
    own.forEach((r, k) => {
      const src = fileUrl(r.video);
      const el = src ? h("video", { controls: true, src, preload: k < 24 ? "metadata" : "none" }) : h("p", { class: "muted", text: "not included in this file" });
      if (src) el.muted = true;  // silent anyway; muted, a click on the table's ▶ plays it without further ado
      tiles[r.episode] = el;
      grid.append(h("figure", { "data-episode": r.episode, "data-success": r.success ? 1 : 0 }, el,
        h("figcaption", {}, h("span", { class: r.success ? "ok" : "bad", text: r.success ? "✓ success" : "✗ failure" }),
          ` · episode ${r.episode} · seed ${r.seed ?? "–"} · ${r.length} steps`)));
    });
    main.append(h("h3", { text: `Every rollout, failures first (${failed} failed of ${own.length})` }), grid);
  }
  if (v.videos_missing) main.append(h("p", { class: "muted", text: v.videos_missing }));
  const t = h("table", { class: "eval" }, h("thead", {}, h("tr", {}, ...["episode", "seed", "success", "return", "length", "video"].map(s => h("th", { text: s })))));
  const tb = h("tbody"); t.append(tb);
  for (const r of v.per_episode) {
    const s = segs[r.episode];
    tb.append(h("tr", {}, h("td", { text: r.episode }), h("td", { text: r.seed ?? "–" }), h("td", { class: r.success ? "ok" : "bad", text: r.success ? "✓" : "✗" }),
      h("td", { text: fmt(r.return, 4) }), h("td", { text: r.length }),
      h("td", {}, tiles[r.episode] && tiles[r.episode].play ? h("button", { onclick: () => { const el = tiles[r.episode]; el.scrollIntoView({ block: "center" }); el.play(); }, text: "▶ play" })
        : s && video ? h("button", { onclick: () => { video.currentTime = s.start; stopAt = s.end; video.play(); }, text: "▶ play" }) : "–")));
  }
  main.append(h("h3", { text: "Episodes, failures first" }), t);
}

// --- router ---------------------------------------------------------------------------------
async function render() {
  const main = document.getElementById("main"); main.replaceChildren();
  const q = new URLSearchParams(location.hash.slice(1));
  const crumbs = document.getElementById("crumbs"); crumbs.replaceChildren();
  try {
    if (q.has("episode")) {
      const p = q.get("episode");
      crumbs.append(link(viewHash(p), p || "dataset"));
      await renderEpisode(main, p, +q.get("i") || 0, q.get("play") === "1");
      return;
    }
    const p = q.get("view") || "";
    const v = await api("/api/view", { p });
    document.title = "protege view: " + v.title;
    if (p) crumbs.append(link("#", "top"));
    main.append(h("h1", {}, v.title, h("span", { class: "kind", id: "kind", text: v.kind })));
    if (v.kind === "dataset") await renderDataset(main, v, p, q.get("tab") === "stats" ? "Statistics" : "Episodes");
    else if (v.kind === "dagger") await renderDagger(main, v);
    else if (v.kind === "dart") renderDart(main, v);
    else if (v.kind === "rl") renderRL(main, v);
    else if (v.kind === "checkpoint") await renderCheckpoint(main, v);
    else if (v.kind === "eval") renderEval(main, v);
    else main.append(childLinks(v.children) || h("p", { class: "muted", text: "nothing to show" }));
  } catch (e) { main.append(errorBox(e)); }
  finally { main.dataset.rendered = "1"; }
}
window.addEventListener("hashchange", render);
render();
