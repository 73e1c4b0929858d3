/**
 * The admin dashboard: one self-contained page (no external resources, works
 * offline) polling /api/v1/stats and /api/v1/topology and streaming
 * /api/v1/tap. Everything is drawn by hand: SVG charts and graph, HTML tables.
 */
export function dashboardHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>Switchyard</title>
<style>${CSS}</style>
</head>
<body>
<header>
  <h1>Switchyard</h1>
  <label>window <select id="window"><option value="10s">10 s</option><option value="1m">1 min</option></select></label>
  <span id="conn" class="muted">connecting…</span>
</header>
<main>
  <section id="alerts" class="alerts" hidden></section>
  <section class="cards">
    <div class="card"><div class="k">requests/s</div><div class="v" id="total-rps">–</div><svg id="chart-rps" class="chart" viewBox="0 0 300 60" preserveAspectRatio="none"></svg></div>
    <div class="card"><div class="k">success rate</div><div class="v" id="total-success">–</div><div class="muted" id="success-detail"></div><svg id="chart-success" class="chart" viewBox="0 0 300 60" preserveAspectRatio="none"></svg></div>
    <div class="card"><div class="k">p99 latency (slowest service)</div><div class="v" id="total-p99">–</div><svg id="chart-p99" class="chart" viewBox="0 0 300 60" preserveAspectRatio="none"></svg></div>
    <div class="card"><div class="k">requests since start</div><div class="v" id="total-requests">0</div><div class="muted" id="uptime"></div></div>
  </section>
  <section>
    <h2>Services and endpoints</h2>
    <table id="services"><thead><tr><th>name</th><th>state</th><th>RPS</th><th>success</th><th>p50</th><th>p99</th><th>latency est.</th><th>conns</th><th>share of traffic</th></tr></thead><tbody></tbody></table>
  </section>
  <section class="two">
    <div>
      <h2>gRPC methods that fail most</h2>
      <table id="methods"><thead><tr><th>method</th><th>failures</th><th>success</th><th>RPS</th><th>p99</th></tr></thead><tbody></tbody></table>
    </div>
    <div>
      <h2>Traffic graph</h2>
      <svg id="graph" viewBox="0 0 800 240"></svg>
    </div>
  </section>
  <section>
    <h2>Live tap <button id="tap-toggle">pause</button> <input id="tap-filter" placeholder="filter: service, path, status…"> <span id="tap-info" class="muted"></span></h2>
    <table id="tap"><thead><tr><th>time</th><th>route</th><th>service</th><th>method / path</th><th>endpoint</th><th>status</th><th>grpc</th><th>ms</th><th>att.</th><th>reason</th></tr></thead><tbody></tbody></table>
  </section>
</main>
<script>${CORE_JS}${JS}</script>
</body>
</html>
`;
}

const CSS = `
:root { --bg:#f6f7f9; --fg:#1d2329; --muted:#6b7580; --card:#fff; --line:#dde2e7; --ok:#2e9e5b; --bad:#d1423f; --warn:#d99a1c; --acc:#3569c9; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
header { display:flex; gap:16px; align-items:center; padding:10px 20px; background:#1d2329; color:#fff; }
header h1 { font-size:18px; margin:0; flex:1; }
header select { margin-left:4px; }
main { padding:16px 20px; display:grid; gap:16px; }
h2 { font-size:15px; margin:0 0 8px; }
section { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:12px; }
section.cards { display:grid; grid-template-columns:repeat(4, 1fr); gap:12px; background:none; border:0; padding:0; }
section.two { display:grid; grid-template-columns:1fr 1.4fr; gap:16px; }
.card { background:var(--card); border:1px solid var(--line); border-radius:6px; padding:10px 12px; }
.card .k { color:var(--muted); font-size:12px; text-transform:uppercase; }
.card .v { font-size:24px; font-weight:600; font-variant-numeric:tabular-nums; }
.chart { width:100%; height:60px; display:block; }
.muted { color:var(--muted); font-size:12px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:4px 8px; border-bottom:1px solid var(--line); white-space:nowrap; }
th { color:var(--muted); font-weight:500; font-size:12px; }
tr.svc td { font-weight:600; background:#fafbfc; }
tr.ep td:first-child { padding-left:24px; }
.bar { display:inline-block; height:10px; background:var(--acc); border-radius:2px; vertical-align:middle; }
.state-ready { color:var(--ok); } .state-ejected, .state-reconnecting, .state-unhealthy { color:var(--bad); } .state-connecting, .state-removed { color:var(--warn); }
.fail { color:var(--bad); }
.alerts { border-color:var(--bad); color:var(--bad); background:#fdf1f0; white-space:pre-line; }
#tap tbody { font-family:ui-monospace, monospace; font-size:12px; }
#tap-filter { font-size:12px; width:220px; }
#graph { width:100%; height:240px; }
#graph text { font-size:11px; fill:var(--fg); }
`;

/**
 * The page's arithmetic, without the DOM: the headline figures from a stats
 * response. Exported so tests can run it (node:vm) without a browser.
 */
export const CORE_JS = `
'use strict';
/** A rate as a percentage, rounded down: 0.99996 is 99.99%, never 100.00% while anything failed. */
function pct(r) { return r === null || r === undefined ? '–' : (Math.floor(r * 10000 + 1e-7) / 100).toFixed(2) + '%'; }
/** The whole proxy over the window: sums of the listeners (every request passes exactly one). */
function summarize(st) {
  var t = { rps: 0, successes: 0, failures: 0, cancelled: 0, requests: 0, total: 0, successRate: null, reasons: {}, unavailable: [] };
  st.listeners.forEach(function (l) {
    t.rps += l.rps; t.successes += l.successes; t.failures += l.failures; t.cancelled += l.cancelled; t.requests += l.requests; t.total += l.total.requests;
    var fr = l.failureReasons || {};
    Object.keys(fr).forEach(function (k) { t.reasons[k] = (t.reasons[k] || 0) + fr[k]; });
  });
  st.services.forEach(function (s) {
    if (s.unavailable) t.unavailable.push(s.unavailable);
    else if (s.discovery && !s.discovery.healthy) t.unavailable.push(s.name + ': ' + s.discovery.description + ' failed (keeping the last endpoint set): ' + s.discovery.lastError);
  });
  t.successRate = t.successes + t.failures > 0 ? t.successes / (t.successes + t.failures) : null;
  return t;
}
/** "89 failed (no-endpoint 80, timeout 9) · 3 cancelled" for the window. */
function failureDetail(t) {
  var keys = Object.keys(t.reasons).sort(function (a, b) { return t.reasons[b] - t.reasons[a]; });
  var s = t.failures + ' failed' + (keys.length ? ' (' + keys.map(function (k) { return k + ' ' + t.reasons[k]; }).join(', ') + ')' : '');
  return s + ' · ' + t.cancelled + ' cancelled';
}
`;

const JS = `
var $ = function (id) { return document.getElementById(id); };
var win = '10s';
var hist = { rps: [], success: [], p99: [] };
var HISTORY = 90;
var lastTopology = null;
var lastStats = null;

function fmt(n, digits) { return n === null || n === undefined ? '–' : Number(n).toFixed(digits === undefined ? 1 : digits); }
function ms(v) { return v === null || v === undefined ? '–' : (v < 10 ? v.toFixed(2) : v.toFixed(1)) + ' ms'; }
function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
function row(cells, cls) { var tr = el('tr', undefined, cls); cells.forEach(function (c) { var td = el('td'); if (c instanceof Node) td.appendChild(c); else td.textContent = c; tr.appendChild(td); }); return tr; }
function setRows(tbody, rows) { tbody.replaceChildren.apply(tbody, rows); }
var SVGNS = 'http://www.w3.org/2000/svg';
function svg(tag, attrs, text) { var e = document.createElementNS(SVGNS, tag); for (var k in attrs) e.setAttribute(k, attrs[k]); if (text !== undefined) e.textContent = text; return e; }

/** A line chart; null values (nothing to measure, e.g. no requests) leave gaps instead of drawing 0 or 100 %. */
function drawChart(id, values, color, fixedMax) {
  var s = $(id);
  var max = fixedMax || Math.max.apply(null, values.filter(function (v) { return v !== null; }).concat([1e-9])) * 1.1;
  var kids = [svg('line', { x1: 0, y1: 58, x2: 300, y2: 58, stroke: '#dde2e7' })];
  var pts = [];
  var flush = function () { if (pts.length > 1) kids.push(svg('polyline', { points: pts.join(' '), fill: 'none', stroke: color, 'stroke-width': 1.5 })); pts = []; };
  values.forEach(function (v, i) {
    if (v === null) { flush(); return; }
    pts.push((i * 300 / (HISTORY - 1)).toFixed(1) + ',' + (58 - (v / max) * 56).toFixed(1));
  });
  flush();
  s.replaceChildren.apply(s, kids);
}

function push(arr, v) { arr.push(v); if (arr.length > HISTORY) arr.shift(); }

function render(st) {
  lastStats = st;
  var t = summarize(st), p99 = null;
  st.services.forEach(function (s) { if (s.latencyMs.p99 !== null && (p99 === null || s.latencyMs.p99 > p99)) p99 = s.latencyMs.p99; });
  var sr = t.successRate;
  $('total-rps').textContent = fmt(t.rps);
  $('total-success').textContent = pct(sr);
  $('total-success').className = 'v' + (t.failures > 0 ? ' fail' : '');
  $('success-detail').textContent = t.requests > 0 ? failureDetail(t) : 'no requests in the window';
  $('total-p99').textContent = ms(p99);
  $('total-requests').textContent = String(t.total);
  $('uptime').textContent = 'up ' + Math.round(st.uptimeSeconds) + ' s';
  var alerts = $('alerts');
  alerts.hidden = t.unavailable.length === 0;
  alerts.textContent = t.unavailable.join('\\n');
  push(hist.rps, t.rps); push(hist.success, sr); push(hist.p99, p99 || 0);
  drawChart('chart-rps', hist.rps, '#3569c9');
  drawChart('chart-success', hist.success, '#2e9e5b', 1);
  drawChart('chart-p99', hist.p99, '#d99a1c');

  var rows = [];
  st.services.forEach(function (s) {
    var svcState = el('span');
    if (s.available === false) svcState.appendChild(el('span', 'unavailable', 'fail'));
    var d = s.discovery;
    if (d && d.kind !== 'static') {
      // Where the endpoints come from, whether it answers, and how fresh the set is.
      var age = d.lastUpdate ? Math.max(0, Math.round((Date.now() - Date.parse(d.lastUpdate)) / 1000)) + ' s ago' : 'no update yet';
      var src = el('span', (s.available === false ? ' ' : '') + d.kind + ': ' + (d.healthy ? 'ok' : 'failing') + ', updated ' + age, d.healthy ? 'source' : 'fail source');
      src.title = d.description + (d.lastError ? '\\n' + d.lastError : '');
      svcState.appendChild(src);
    }
    rows.push(row([s.name + (s.panicMode ? ' (panic)' : ''), svcState, fmt(s.rps), pct(s.successRate), ms(s.latencyMs.p50), ms(s.latencyMs.p99), '', '', s.inFlight + ' in flight'], 'svc'));
    s.endpoints.forEach(function (e) {
      var bar = el('span'); var b = el('span', undefined, 'bar'); b.style.width = Math.round((e.share || 0) * 160) + 'px';
      bar.appendChild(b); bar.appendChild(document.createTextNode(' ' + (e.share === null ? '–' : (e.share * 100).toFixed(0) + '%')));
      var st1 = el('span', e.state + (e.cause ? ': ' + e.cause : '') + (e.terminating ? ' (terminating)' : ''), 'state-' + e.state);
      rows.push(row([e.name, st1, fmt(e.rps), pct(e.successRate), ms(e.latencyMs.p50), ms(e.latencyMs.p99), ms(e.latencyEstimateMs), String(e.connections), bar], 'ep'));
    });
  });
  setRows(document.querySelector('#services tbody'), rows);

  var methods = st.methods.slice().sort(function (a, b) { return b.total.failures - a.total.failures || b.requests - a.requests; }).slice(0, 10);
  setRows(document.querySelector('#methods tbody'), methods.map(function (m) {
    return row([m.name, el('span', String(m.total.failures), m.total.failures > 0 ? 'fail' : ''), pct(m.successRate), fmt(m.rps), ms(m.latencyMs.p99)]);
  }));
  if (lastTopology) drawGraph(lastTopology, st);
}

function drawGraph(topo, st) {
  var g = $('graph'); var kids = [];
  var cols = [[], [], [], []];
  var pos = {};
  var rpsOf = {};
  if (st) {
    st.listeners.forEach(function (l) { rpsOf['l:' + l.name] = l.rps; });
    st.routes.forEach(function (r) { rpsOf['r:' + r.listener + '/' + r.name] = r.rps; });
    st.services.forEach(function (s) { rpsOf['s:' + s.name] = s.rps; s.endpoints.forEach(function (e) { rpsOf['e:' + s.name + '/' + e.name] = e.rps; }); });
  }
  var edges = [];
  topo.listeners.forEach(function (l) {
    cols[0].push({ key: 'l:' + l.name, label: l.name + ' (' + l.protocol + ')' });
    if (l.protocol === 'tcp' && l.service) edges.push(['l:' + l.name, 's:' + l.service]);
    l.routes.forEach(function (r) {
      var rk = 'r:' + l.name + '/' + r.name;
      cols[1].push({ key: rk, label: r.name });
      edges.push(['l:' + l.name, rk]);
      r.services.forEach(function (s) { edges.push([rk, 's:' + s]); });
    });
  });
  topo.services.forEach(function (s) {
    cols[2].push({ key: 's:' + s.name, label: s.name });
    s.endpoints.forEach(function (e) { var ek = 'e:' + s.name + '/' + e.id; cols[3].push({ key: ek, label: e.id, state: e.state }); edges.push(['s:' + s.name, ek]); });
  });
  var W = 800, H = Math.max(240, 34 * Math.max(cols[0].length, cols[1].length, cols[2].length, cols[3].length) + 20);
  g.setAttribute('viewBox', '0 0 ' + W + ' ' + H); g.style.height = H + 'px';
  cols.forEach(function (col, c) {
    col.forEach(function (n, i) { pos[n.key] = { x: 10 + c * 200, y: (i + 0.5) * H / col.length, n: n }; });
  });
  edges.forEach(function (e) {
    var a = pos[e[0]], b = pos[e[1]]; if (!a || !b) return;
    var r = rpsOf[e[1]] || 0;
    kids.push(svg('path', { d: 'M' + (a.x + 170) + ',' + a.y + ' C' + (a.x + 185) + ',' + a.y + ' ' + (b.x - 15) + ',' + b.y + ' ' + b.x + ',' + b.y, fill: 'none', stroke: r > 0 ? '#3569c9' : '#c5ccd3', 'stroke-width': Math.min(1 + Math.log10(1 + r) * 2, 9) }));
  });
  Object.keys(pos).forEach(function (k) {
    var p = pos[k]; var color = p.n.state ? (p.n.state === 'ready' ? '#2e9e5b' : p.n.state === 'connecting' ? '#d99a1c' : '#d1423f') : '#3569c9';
    kids.push(svg('rect', { x: p.x, y: p.y - 13, width: 170, height: 26, rx: 4, fill: '#fff', stroke: color }));
    var r = rpsOf[k];
    kids.push(svg('text', { x: p.x + 6, y: p.y + 4 }, p.n.label.slice(0, 22) + (r !== undefined ? '  ' + r.toFixed(1) + '/s' : '')));
  });
  g.replaceChildren.apply(g, kids);
}

function poll() {
  fetch('/api/v1/stats?window=' + win).then(function (r) { return r.json(); }).then(function (st) {
    $('conn').textContent = 'live'; render(st);
  }).catch(function (e) { $('conn').textContent = 'admin unreachable'; });
}
function pollTopology() {
  fetch('/api/v1/topology').then(function (r) { return r.json(); }).then(function (t) { lastTopology = t; drawGraph(t, lastStats); }).catch(function () {});
}

var paused = false, tapRows = [], tapSeen = 0, tapDropped = 0;
function tapMatches(ev) {
  var f = $('tap-filter').value.trim().toLowerCase(); if (!f) return true;
  return [ev.service, ev.route, ev.path, ev.endpoint, String(ev.status), ev.errorCode, ev.reason].some(function (x) { return String(x).toLowerCase().indexOf(f) >= 0; });
}
function startTap() {
  var es = new EventSource('/api/v1/tap?rate=20');
  es.onmessage = function (m) {
    var ev = JSON.parse(m.data); tapSeen++;
    if (paused || !tapMatches(ev)) return;
    var failed = ev.classification === 'failure';
    tapRows.unshift(row([ev.time.slice(11, 23), ev.route, ev.service, ev.method + ' ' + ev.path, ev.endpoint || '–', String(ev.status), ev.grpcStatus < 0 ? '' : String(ev.grpcStatus), ev.latencyMs.toFixed(2), String(ev.attempts), ev.reason ? ev.reason + (ev.errorCode ? ' (' + ev.errorCode + ')' : '') : ev.errorCode], failed ? 'fail' : ''));
    if (tapRows.length > 50) tapRows.pop();
    setRows(document.querySelector('#tap tbody'), tapRows);
    $('tap-info').textContent = tapSeen + ' events' + (tapDropped ? ', ' + tapDropped + ' dropped by the rate limit' : '');
  };
  es.addEventListener('dropped', function (m) { tapDropped = JSON.parse(m.data).totalDropped; });
  es.onerror = function () { $('tap-info').textContent = 'tap reconnecting…'; };
}

$('window').addEventListener('change', function (e) { win = e.target.value; poll(); });
$('tap-toggle').addEventListener('click', function () { paused = !paused; $('tap-toggle').textContent = paused ? 'resume' : 'pause'; });
pollTopology(); poll(); startTap();
setInterval(poll, 1000);
setInterval(pollTopology, 5000);
`;
