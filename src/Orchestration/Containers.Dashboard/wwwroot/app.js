// The Containers dashboard: a page over the Docker Engine API and the Kubernetes API, both reached through the
// dashboard's own server (api/docker/..., api/k8s/...), which checks the session and forwards. No framework: each view
// is a function that renders into <main> and returns what to stop when the page moves on (streams, timers, sockets).
'use strict';

const app = document.getElementById('app');
let status = null;          // api/auth/status: initialized, authenticated, csrf, docker, kubernetes, stacks
let view = null;            // the current view's { abort: AbortController, stops: [] }
let k8sNamespace = '';      // '' = all namespaces

// the terminal emulator and the charts load with the first view that needs them (700 KB the other views do not parse)
const assetVersion = new URL(document.querySelector('script[src*="app.js"]').src).searchParams.get('v') || '';
const loaded = new Map();
function loadScript(path) {
  if (!loaded.has(path)) {
    loaded.set(path, new Promise((resolve, reject) => {
      const s = el('script', { src: `assets/${path}?v=${assetVersion}` });
      s.onload = resolve;
      s.onerror = () => reject(new Error('could not load ' + path));
      document.head.append(s);
    }));
  }
  return loaded.get(path);
}
function loadStyle(path) {
  if (!document.querySelector(`link[data-asset="${path}"]`)) document.head.append(el('link', { rel: 'stylesheet', href: `assets/${path}?v=${assetVersion}`, 'data-asset': path }));
}
const loadCharts = () => loadScript('lib/chart.umd.min.js');
const loadTerminal = () => { loadStyle('lib/xterm.css'); return Promise.all([loadScript('lib/xterm.js'), loadScript('lib/addon-fit.js')]); };

// ---- helpers ---------------------------------------------------------------------------------------------------

/** An element: el('td', {class: 'x', onclick: f}, 'text', child, ...). Strings become text (never HTML). */
function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else if (k === 'value') e.value = v;
    else e.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

class ApiError extends Error {
  constructor(message, status, line) { super(message); this.status = status; this.line = line; }
}

/** A request to the dashboard's API; JSON in and out; throws ApiError with the server's message. */
async function api(path, options = {}) {
  const headers = Object.assign({}, options.headers || {});
  const method = options.method || 'GET';
  if (method !== 'GET' && method !== 'HEAD' && status && status.csrf) headers['X-CSRF-Token'] = status.csrf;
  let body = options.body;
  if (body !== undefined && !(body instanceof Blob) && !(body instanceof ArrayBuffer) && typeof body !== 'string') {
    body = JSON.stringify(body);
    headers['Content-Type'] = headers['Content-Type'] || 'application/json';
  }
  const response = await fetch(path, { method, headers, body, credentials: 'same-origin', signal: options.signal });
  if (response.status === 401 && !path.startsWith('api/auth/')) { status = null; boot(); throw new ApiError('not logged in', 401); }
  if (options.raw) {
    if (!response.ok) throw new ApiError(await messageOf(response), response.status);
    return response;
  }
  const text = await response.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!response.ok) throw new ApiError((data && (data.message || data.Message)) || text || response.statusText, response.status, data && data.line);
  return data;
}

async function messageOf(response) {
  const text = await response.text();
  try { const j = JSON.parse(text); return j.message || text; } catch { return text || response.statusText; }
}

const docker = (path, options) => api('api/docker/' + path, options);
const k8s = (path, options) => api('api/k8s/' + path, options);

/** Reads a streaming response line by line (JSON lines: events, pulls, builds, stats). */
async function readLines(response, onLine, signal) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += decoder.decode(value, { stream: true });
      let i;
      while ((i = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, i).trim();
        buffer = buffer.slice(i + 1);
        if (line) onLine(line);
      }
      if (signal && signal.aborted) break;
    }
    if (buffer.trim()) onLine(buffer.trim());
  } catch (e) { if (!(signal && signal.aborted)) throw e; }
}

/** Reads Docker's multiplexed log stream (8-byte frame headers) or a TTY's raw stream; calls onText with each chunk. */
async function readDockerStream(response, tty, onText, signal) {
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  let pending = new Uint8Array(0);
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (tty) { onText(decoder.decode(value, { stream: true })); continue; }
      const joined = new Uint8Array(pending.length + value.length);
      joined.set(pending); joined.set(value, pending.length);
      let offset = 0;
      while (joined.length - offset >= 8) {
        const size = (joined[offset + 4] << 24 | joined[offset + 5] << 16 | joined[offset + 6] << 8 | joined[offset + 7]) >>> 0;
        if (joined.length - offset - 8 < size) break;
        onText(new TextDecoder().decode(joined.subarray(offset + 8, offset + 8 + size)), joined[offset] === 2 ? 'stderr' : 'stdout');
        offset += 8 + size;
      }
      pending = joined.slice(offset);
    }
  } catch (e) { if (!(signal && signal.aborted)) throw e; }
}

function bytes(n) {
  if (n === undefined || n === null || n < 0) return '-';
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
  return (i === 0 ? n : n.toFixed(n < 10 ? 2 : 1)) + ' ' + units[i];
}

function ago(time) {
  const t = typeof time === 'number' ? time * 1000 : Date.parse(time);
  if (!t || isNaN(t)) return '-';
  const s = Math.max(0, (Date.now() - t) / 1000);
  if (s < 60) return Math.floor(s) + 's ago';
  if (s < 3600) return Math.floor(s / 60) + 'm ago';
  if (s < 86400) return Math.floor(s / 3600) + 'h ago';
  return Math.floor(s / 86400) + 'd ago';
}

const short = id => (id || '').replace(/^sha256:/, '').slice(0, 12);
const badge = (text, cls) => el('span', { class: 'badge ' + (cls || text) }, text);
const errorBox = e => el('div', { class: 'error', role: 'alert' }, e.message || String(e));

/** A button that runs an async action, shows its error in `into` (or alerts), then calls `after`. */
function action(label, run, { cls, after, into, testid } = {}) {
  const b = el('button', { class: cls, 'data-testid': testid });
  b.textContent = label;
  b.addEventListener('click', async () => {
    b.disabled = true;
    try { await run(); if (after) await after(); }
    catch (e) { if (into) into.replaceChildren(errorBox(e)); else alert(e.message); }
    finally { b.disabled = false; }
  });
  return b;
}

function table(headers, rows, empty) {
  return el('table', {},
    el('thead', {}, el('tr', {}, headers.map(h => el('th', {}, h)))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: headers.length, class: 'muted' }, empty || 'None'))));
}

/** Runs `load` now and again every `ms` (and when `trigger` is called), while the view lasts. */
function poll(load, ms) {
  let busy = false, again = false;
  const run = async () => {
    if (busy) { again = true; return; }
    busy = true;
    try { await load(); } catch (e) { if (e.status !== 401) console.warn(e); }
    busy = false;
    if (again) { again = false; run(); }
  };
  run();
  const timer = setInterval(run, ms);
  view.stops.push(() => clearInterval(timer));
  return run;
}

/** Whether `key` is what the view last rendered under `name` (then a poll need not rebuild the DOM). */
function unchanged(name, key) {
  view.seen = view.seen || {};
  if (view.seen[name] === key) return true;
  view.seen[name] = key;
  return false;
}

/** A Kubernetes list's identity: its resourceVersion changes with any object in it. */
const listKey = l => (l.metadata && l.metadata.resourceVersion) || JSON.stringify(l.items.map(i => i.metadata.resourceVersion));

/** Follows the Docker API's events while the view lasts, calling onEvent for each. */
async function followEvents(onEvent, query = '') {
  const signal = view.abort.signal;
  for (;;) {
    try {
      const response = await docker('events' + query, { raw: true, signal });
      await readLines(response, line => { try { onEvent(JSON.parse(line)); } catch { /* a partial line */ } }, signal);
    } catch (e) { if (signal.aborted) return; }
    if (signal.aborted) return;
    await new Promise(r => setTimeout(r, 1000));
  }
}

// ---- shell, login, routing ---------------------------------------------------------------------------------------

async function boot() {
  try { status = await api('api/auth/status'); }
  catch (e) { app.replaceChildren(el('div', { class: 'pad' }, errorBox(e))); return; }
  if (!status.initialized) return renderSetup();
  if (!status.authenticated) return renderLogin();
  renderShell();
  route();
}

function renderSetup() {
  const password = el('input', { type: 'password', id: 'password', autocomplete: 'new-password', minlength: 12 });
  const confirm = el('input', { type: 'password', id: 'confirm', autocomplete: 'new-password' });
  const out = el('div');
  const form = el('form', { class: 'login' },
    el('h1', {}, 'Create the admin password'),
    el('p', { class: 'muted' }, 'First run: choose the password of the dashboard\'s admin (at least 12 characters).'),
    el('label', { for: 'password' }, 'Password'), password,
    el('label', { for: 'confirm' }, 'Confirm'), confirm,
    el('button', { class: 'primary', type: 'submit' }, 'Create'), out);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    if (password.value !== confirm.value) { out.replaceChildren(errorBox(new Error('the passwords differ'))); return; }
    try { status = await api('api/auth/setup', { method: 'POST', body: { password: password.value } }); boot(); }
    catch (e) { out.replaceChildren(errorBox(e)); }
  });
  app.replaceChildren(form);
}

function renderLogin() {
  const password = el('input', { type: 'password', id: 'password', autocomplete: 'current-password', autofocus: true });
  const out = el('div', { id: 'login-error' });
  const form = el('form', { class: 'login' },
    el('h1', {}, 'Containers dashboard'),
    el('label', { for: 'password' }, 'Admin password'), password,
    el('button', { class: 'primary', type: 'submit', id: 'login' }, 'Log in'), out);
  form.addEventListener('submit', async ev => {
    ev.preventDefault();
    try { status = await api('api/auth/login', { method: 'POST', body: { password: password.value } }); boot(); }
    catch (e) { out.replaceChildren(errorBox(e)); password.select(); }
  });
  app.replaceChildren(form);
  password.focus();
}

const routes = [];
function at(pattern, render, title) { routes.push({ pattern, render, title }); }

function renderShell() {
  const link = (href, text) => el('a', { href: '#' + href, 'data-route': href }, text);
  const nav = el('nav', {},
    el('div', { class: 'brand' }, el('img', { src: 'assets/logo.svg', alt: '' }), 'Containers'),
    status.docker ? [
      el('h4', {}, 'Docker'),
      link('/', 'Home'), link('/stacks', 'Stacks'), link('/containers', 'Containers'), link('/images', 'Images'),
      link('/networks', 'Networks'), link('/volumes', 'Volumes'), link('/events', 'Events'),
    ] : [],
    status.kubernetes ? [
      el('h4', {}, 'Kubernetes'),
      link('/k8s', 'Cluster'), link('/k8s/namespaces', 'Namespaces'), link('/k8s/apps', 'Applications'), link('/k8s/pods', 'Pods'),
      link('/k8s/services', 'Services & Ingresses'), link('/k8s/config', 'ConfigMaps & Secrets'), link('/k8s/storage', 'Volumes'),
      link('/k8s/events', 'Events'), link('/k8s/helm', 'Helm'), link('/k8s/apply', 'Apply a manifest'),
    ] : [],
    el('h4', {}, 'Settings'),
    link('/tokens', 'API tokens'),
    el('a', { href: '#', id: 'logout', onclick: async ev => { ev.preventDefault(); await api('api/auth/logout', { method: 'POST' }); status = null; boot(); } }, 'Log out'));
  app.replaceChildren(el('div', { class: 'layout' }, nav, el('main', { id: 'main' })));
}

function route() {
  if (!status || !status.authenticated) return;
  const main = document.getElementById('main');
  if (!main) return;
  if (view) { view.abort.abort(); view.stops.forEach(s => { try { s(); } catch { /* already stopped */ } }); }
  view = { abort: new AbortController(), stops: [] };
  let hash = decodeURIComponent(location.hash.slice(1) || (status.docker ? '/' : '/k8s'));
  for (const a of document.querySelectorAll('nav a[data-route]')) {
    const r = a.getAttribute('data-route');
    a.classList.toggle('active', r === hash || (r !== '/' && r !== '/k8s' && hash.startsWith(r + '/')));
  }
  for (const r of routes) {
    const m = hash.match(r.pattern);
    if (m) {
      main.replaceChildren();
      Promise.resolve(r.render(main, ...m.slice(1))).catch(e => main.append(errorBox(e)));
      return;
    }
  }
  main.replaceChildren(el('h1', {}, 'Not found'), el('p', { class: 'muted' }, hash));
}

window.addEventListener('hashchange', route);

// ---- Docker: home ------------------------------------------------------------------------------------------------

function card(id, label, value, sub) {
  return el('div', { class: 'card' }, el('div', { class: 'value', id }, value), el('div', { class: 'label' }, label), sub ? el('div', { class: 'sub' }, sub) : null);
}

at(/^\/$/, async main => {
  main.append(el('h1', {}, 'Home'), el('p', { class: 'muted' }, 'Docker endpoint: ', status.docker));
  const cards = el('div', { class: 'cards', id: 'home-cards' });
  main.append(cards);
  const load = async () => {
    const [containers, images, volumes, networks, info] = await Promise.all([
      docker('containers/json?all=1'), docker('images/json'), docker('volumes'), docker('networks'), docker('info')]);
    const stacks = new Set(containers.map(c => (c.Labels || {})['com.docker.compose.project']).filter(Boolean));
    if (status.stacks) (await api('api/stacks')).forEach(s => stacks.add(s.name));
    const running = containers.filter(c => c.State === 'running').length;
    const healthy = containers.filter(c => /\(healthy\)/.test(c.Status)).length;
    const unhealthy = containers.filter(c => /\(unhealthy\)/.test(c.Status)).length;
    cards.replaceChildren(
      card('count-stacks', 'Stacks', stacks.size),
      card('count-containers', 'Containers', containers.length),
      card('count-running', 'Running', running),
      card('count-stopped', 'Stopped', containers.length - running),
      card('count-healthy', 'Healthy', healthy),
      card('count-unhealthy', 'Unhealthy', unhealthy),
      card('count-images', 'Images', images.length, el('span', { id: 'images-size' }, bytes(images.reduce((n, i) => n + (i.Size || 0), 0)))),
      card('count-volumes', 'Volumes', (volumes.Volumes || []).length),
      card('count-networks', 'Networks', networks.length),
      card('cpus', 'CPUs', info.NCPU, bytes(info.MemTotal) + ' memory'),
      card('server', 'Server', info.ServerVersion || '-', (info.OperatingSystem || '') + ' ' + (info.KernelVersion || '')));
  };
  const refresh = poll(load, 5000);
  followEvents(() => refresh());
}, 'Home');

// ---- Docker: containers ------------------------------------------------------------------------------------------

function stateOf(c) {
  const health = /\((healthy|unhealthy|health: starting)\)/.exec(c.Status || '');
  return { state: c.State, health: health ? health[1].replace('health: ', '') : null };
}

function containerActions(id, state, after, into) {
  const post = path => () => docker(`containers/${id}/${path}`, { method: 'POST' });
  const running = state === 'running' || state === 'restarting' || state === 'paused';
  return [
    !running ? action('Start', post('start'), { after, into, testid: 'start' }) : null,
    running ? action('Stop', post('stop'), { after, into, testid: 'stop' }) : null,
    action('Restart', post('restart'), { after, into, testid: 'restart' }),
    running ? action('Kill', post('kill'), { after, into, cls: 'danger', testid: 'kill' }) : null,
    action('Remove', () => docker(`containers/${id}?force=1&v=1`, { method: 'DELETE' }), { after, into, cls: 'danger', testid: 'remove' }),
  ];
}

at(/^\/containers$/, async main => {
  const out = el('div');
  const body = el('div', { id: 'containers' });
  main.append(el('h1', {}, 'Containers'), out, body);
  const load = async () => {
    const list = await docker('containers/json?all=1');
    if (unchanged('containers', JSON.stringify(list))) return;
    list.sort((a, b) => (a.Names[0] || '').localeCompare(b.Names[0] || ''));
    body.replaceChildren(table(['Name', 'State', 'Health', 'Image', 'Ports', 'Created', ''], list.map(c => {
      const name = (c.Names[0] || '').replace(/^\//, '');
      const s = stateOf(c);
      const ports = (c.Ports || []).filter(p => p.PublicPort).map(p => `${p.IP || ''}:${p.PublicPort}->${p.PrivatePort}/${p.Type}`).join(', ');
      return el('tr', { 'data-name': name, 'data-id': c.Id },
        el('td', {}, el('a', { href: '#/containers/' + c.Id }, name)),
        el('td', { class: 'state' }, badge(s.state)),
        el('td', { class: 'health' }, s.health ? badge(s.health) : '-'),
        el('td', {}, c.Image),
        el('td', {}, ports || '-'),
        el('td', {}, ago(c.Created)),
        el('td', { class: 'actions' }, containerActions(c.Id, c.State, refresh, out)));
    }), 'No containers'));
  };
  const refresh = poll(load, 5000);
  followEvents(() => refresh(), '?filters=' + encodeURIComponent(JSON.stringify({ type: ['container'] })));
}, 'Containers');

at(/^\/containers\/([^/]+)$/, async (main, id) => {
  const head = el('div');
  const out = el('div');
  const inspectPre = el('pre', { id: 'inspect' });
  main.append(head, out);
  let tty = false;
  const load = async () => {
    const c = await docker(`containers/${id}/json`);
    tty = c.Config && c.Config.Tty;
    const health = c.State.Health ? c.State.Health.Status : null;
    head.replaceChildren(
      el('h1', {}, c.Name.replace(/^\//, ''), ' ', el('span', { id: 'container-state' }, badge(c.State.Status)), health ? [' ', badge(health)] : null),
      el('p', { class: 'muted' }, `${short(c.Id)} · ${c.Config.Image} · created ${ago(c.Created)}`),
      el('div', { class: 'row' }, containerActions(c.Id, c.State.Status, refresh, out)));
    inspectPre.textContent = JSON.stringify(c, null, 2);
    return c;
  };
  const refresh = poll(load, 5000);
  followEvents(e => { if (e.id === id || (e.Actor && e.Actor.ID === id) || (e.id && id.startsWith(e.id))) refresh(); },
    '?filters=' + encodeURIComponent(JSON.stringify({ type: ['container'] })));

  // logs
  const logs = el('pre', { id: 'logs' });
  const follow = el('input', { type: 'checkbox', id: 'logs-follow', checked: true });
  const stamps = el('input', { type: 'checkbox', id: 'logs-timestamps' });
  const tail = el('input', { type: 'number', id: 'logs-tail', value: '100', min: 0, style: 'width:80px' });
  let logsAbort = null;
  const startLogs = async () => {
    if (logsAbort) logsAbort.abort();
    logsAbort = new AbortController();
    view.stops.push(() => logsAbort.abort());
    logs.textContent = '';
    const signal = logsAbort.signal;
    try {
      await refresh;
      const c = await docker(`containers/${id}/json`);
      const q = `stdout=1&stderr=1&tail=${encodeURIComponent(tail.value || 'all')}&follow=${follow.checked ? 1 : 0}&timestamps=${stamps.checked ? 1 : 0}`;
      const response = await docker(`containers/${id}/logs?${q}`, { raw: true, signal });
      await readDockerStream(response, c.Config.Tty, text => {
        const atEnd = logs.scrollTop + logs.clientHeight >= logs.scrollHeight - 4;
        logs.append(text);
        if (atEnd) logs.scrollTop = logs.scrollHeight;
      }, signal);
    } catch (e) { if (!signal.aborted) logs.append('\n[' + e.message + ']'); }
  };
  [follow, stamps, tail].forEach(i => i.addEventListener('change', startLogs));
  main.append(el('h2', {}, 'Logs'), el('div', { class: 'row' },
    el('label', {}, follow, ' follow'), el('label', {}, stamps, ' timestamps'), el('label', {}, 'tail ', tail)), logs);
  startLogs();

  // stats
  const cpuCanvas = el('canvas', { id: 'cpu-chart' }), memCanvas = el('canvas', { id: 'mem-chart' });
  const statsNote = el('p', { class: 'muted', id: 'stats-now' });
  main.append(el('h2', {}, 'Stats'), statsNote, el('div', { class: 'grid2' }, el('div', { class: 'chart' }, cpuCanvas), el('div', { class: 'chart' }, memCanvas)));
  const chart = (canvas, label, color) => new Chart(canvas, {
    type: 'line',
    data: { labels: [], datasets: [{ label, data: [], borderColor: color, backgroundColor: color + '33', fill: true, pointRadius: 0, tension: .25 }] },
    options: { animation: false, maintainAspectRatio: false, scales: { x: { display: false }, y: { beginAtZero: true } } },
  });
  await loadCharts();
  const cpuChart = chart(cpuCanvas, 'CPU %', '#512bd4'), memChart = chart(memCanvas, 'Memory (MB)', '#1a7f37');
  view.stops.push(() => { cpuChart.destroy(); memChart.destroy(); });
  (async () => {
    const signal = view.abort.signal;
    try {
      const response = await docker(`containers/${id}/stats?stream=1`, { raw: true, signal });
      await readLines(response, line => {
        const s = JSON.parse(line);
        const cpuDelta = (s.cpu_stats.cpu_usage.total_usage || 0) - ((s.precpu_stats.cpu_usage || {}).total_usage || 0);
        const sysDelta = (s.cpu_stats.system_cpu_usage || 0) - (s.precpu_stats.system_cpu_usage || 0);
        const cpu = sysDelta > 0 ? cpuDelta / sysDelta * (s.cpu_stats.online_cpus || 1) * 100 : 0;
        const mem = (s.memory_stats.usage || 0) / 1e6;
        const label = new Date(s.read).toLocaleTimeString();
        for (const [c, v] of [[cpuChart, cpu], [memChart, mem]]) {
          c.data.labels.push(label); c.data.datasets[0].data.push(v);
          if (c.data.labels.length > 60) { c.data.labels.shift(); c.data.datasets[0].data.shift(); }
          c.update('none');
        }
        statsNote.textContent = `CPU ${cpu.toFixed(1)}% · memory ${bytes(s.memory_stats.usage)}${s.memory_stats.limit ? ' of ' + bytes(s.memory_stats.limit) : ''} · pids ${(s.pids_stats || {}).current ?? '-'}`;
      }, signal);
    } catch (e) { if (!signal.aborted) statsNote.textContent = e.message; }
  })();

  // console
  const cmd = el('input', { id: 'console-command', value: 'sh', style: 'width:200px' });
  const termBox = el('div', { class: 'terminal', id: 'console' });
  const connect = el('button', { class: 'primary', id: 'console-connect' }, 'Connect');
  main.append(el('h2', {}, 'Console'), el('div', { class: 'row' }, el('label', {}, 'command ', cmd), connect), termBox);
  connect.addEventListener('click', () => openTerminal(termBox, `api/docker-console/${encodeURIComponent(id)}?cmd=${encodeURIComponent(cmd.value)}`));

  main.append(el('details', {}, el('summary', {}, 'Inspect'), inspectPre));
}, 'Container');

/** An xterm.js terminal in `box`, joined to a console WebSocket at `path`. */
async function openTerminal(box, path) {
  box.replaceChildren();
  await loadTerminal();
  const term = new Terminal({ cursorBlink: true, fontSize: 13, convertEol: false, theme: { background: '#000000' } });
  const fit = new FitAddon.FitAddon();
  term.loadAddon(fit);
  term.open(box);
  fit.fit();
  const url = new URL(path, document.baseURI);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  const socket = new WebSocket(url);
  socket.binaryType = 'arraybuffer';
  const encoder = new TextEncoder();
  const sendSize = () => { if (socket.readyState === 1) socket.send(JSON.stringify({ cols: term.cols, rows: term.rows })); };
  socket.onopen = () => { sendSize(); term.focus(); };
  socket.onmessage = ev => term.write(new Uint8Array(ev.data));
  socket.onclose = ev => term.write(`\r\n\x1b[90m[disconnected${ev.reason ? ': ' + ev.reason : ''}]\x1b[0m\r\n`);
  socket.onerror = () => term.write('\r\n\x1b[31m[the console could not connect]\x1b[0m\r\n');
  term.onData(data => { if (socket.readyState === 1) socket.send(encoder.encode(data)); });
  const onResize = () => { fit.fit(); sendSize(); };
  window.addEventListener('resize', onResize);
  box.terminal = term;
  view.stops.push(() => { window.removeEventListener('resize', onResize); socket.close(); term.dispose(); });
}

// ---- Docker: images, networks, volumes ---------------------------------------------------------------------------

at(/^\/images$/, async main => {
  const out = el('div');
  const list = el('div', { id: 'images' });
  const progress = el('pre', { id: 'image-progress', hidden: true });
  const ref = el('input', { id: 'pull-ref', placeholder: 'busybox:latest', style: 'width:280px' });
  const context = el('input', { type: 'file', id: 'build-context', accept: '.tar,.tar.gz,.tgz' });
  const tag = el('input', { id: 'build-tag', placeholder: 'name:tag' });
  const stream = async (response) => {
    progress.hidden = false;
    progress.textContent = '';
    const layers = new Map();
    await readLines(response, line => {
      const j = JSON.parse(line);
      if (j.error || j.errorDetail) { progress.append('ERROR: ' + (j.error || j.errorDetail.message) + '\n'); return; }
      if (j.stream) { progress.append(j.stream); return; }
      if (j.aux && j.aux.ID) { progress.append('built ' + j.aux.ID + '\n'); return; }
      const text = [j.id, j.status, j.progress].filter(Boolean).join(' ');
      if (j.id && j.progressDetail) { layers.set(j.id, text); progress.textContent = [...layers.values()].join('\n') + '\n'; }
      else progress.append(text + '\n');
    });
    progress.scrollTop = progress.scrollHeight;
  };
  main.append(el('h1', {}, 'Images'),
    el('div', { class: 'row' }, ref, action('Pull', async () => {
      let [name, t] = ref.value.trim().split(/:(?=[^/:]+$)/);
      await stream(await docker(`images/create?fromImage=${encodeURIComponent(name)}&tag=${encodeURIComponent(t || 'latest')}`, { method: 'POST', raw: true }));
    }, { cls: 'primary', after: () => refresh(), into: out, testid: 'pull' })),
    el('div', { class: 'row' }, el('span', {}, 'Build from a context (tar, tar.gz):'), context, tag, action('Build', async () => {
      if (!context.files[0]) throw new Error('choose a context archive');
      await stream(await docker(`build?t=${encodeURIComponent(tag.value)}&rm=1`, { method: 'POST', raw: true, body: context.files[0], headers: { 'Content-Type': 'application/x-tar' } }));
    }, { after: () => refresh(), into: out, testid: 'build' }),
    action('Prune unused', async () => { const r = await docker('images/prune', { method: 'POST' }); out.replaceChildren(el('div', { class: 'note' }, `removed ${(r.ImagesDeleted || []).length} images, reclaimed ${bytes(r.SpaceReclaimed)}`)); }, { after: () => refresh(), into: out })),
    out, progress, list);
  const refresh = poll(async () => {
    const images = await docker('images/json');
    list.replaceChildren(table(['Tags', 'ID', 'Size', 'Created', ''], images.map(i => el('tr', {},
      el('td', {}, (i.RepoTags || []).join(', ') || '<none>'), el('td', {}, short(i.Id)), el('td', {}, bytes(i.Size)), el('td', {}, ago(i.Created)),
      el('td', { class: 'actions' }, action('Remove', () => docker(`images/${encodeURIComponent((i.RepoTags || [])[0] || i.Id)}`, { method: 'DELETE' }), { cls: 'danger', after: () => refresh(), into: out })))), 'No images'));
  }, 10000);
}, 'Images');

function inspectable(text, load) {
  const pre = el('pre', { hidden: true });
  return [action(text, async () => { pre.textContent = JSON.stringify(await load(), null, 2); pre.hidden = !pre.hidden; }), pre];
}

at(/^\/networks$/, async main => {
  const out = el('div'), list = el('div', { id: 'networks' });
  const name = el('input', { id: 'network-name', placeholder: 'name' }), subnet = el('input', { id: 'network-subnet', placeholder: 'subnet (optional)' });
  main.append(el('h1', {}, 'Networks'), el('div', { class: 'row' }, name, subnet, action('Create', () => docker('networks/create', {
    method: 'POST', body: Object.assign({ Name: name.value, Driver: 'bridge' }, subnet.value ? { IPAM: { Config: [{ Subnet: subnet.value }] } } : {}),
  }), { cls: 'primary', after: () => refresh(), into: out })), out, list);
  const refresh = poll(async () => {
    const nets = await docker('networks');
    list.replaceChildren(table(['Name', 'Driver', 'Subnet', 'ID', ''], nets.map(n => el('tr', { 'data-name': n.Name },
      el('td', {}, n.Name), el('td', {}, n.Driver), el('td', {}, ((n.IPAM || {}).Config || []).map(c => c.Subnet).join(', ') || '-'), el('td', {}, short(n.Id)),
      el('td', {}, inspectable('Inspect', () => docker(`networks/${n.Id}`)), action('Remove', () => docker(`networks/${n.Id}`, { method: 'DELETE' }), { cls: 'danger', after: () => refresh(), into: out })))), 'No networks'));
  }, 10000);
}, 'Networks');

at(/^\/volumes$/, async main => {
  const out = el('div'), list = el('div', { id: 'volumes' });
  const name = el('input', { id: 'volume-name', placeholder: 'name' });
  main.append(el('h1', {}, 'Volumes'), el('div', { class: 'row' }, name, action('Create', () => docker('volumes/create', { method: 'POST', body: { Name: name.value } }),
    { cls: 'primary', after: () => refresh(), into: out })), out, list);
  const refresh = poll(async () => {
    const vols = (await docker('volumes')).Volumes || [];
    list.replaceChildren(table(['Name', 'Driver', 'Mountpoint', 'Created', ''], vols.map(v => el('tr', { 'data-name': v.Name },
      el('td', {}, v.Name), el('td', {}, v.Driver), el('td', {}, v.Mountpoint), el('td', {}, ago(v.CreatedAt)),
      el('td', {}, inspectable('Inspect', () => docker(`volumes/${encodeURIComponent(v.Name)}`)), action('Remove', () => docker(`volumes/${encodeURIComponent(v.Name)}`, { method: 'DELETE' }), { cls: 'danger', after: () => refresh(), into: out })))), 'No volumes'));
  }, 10000);
}, 'Volumes');

at(/^\/events$/, async main => {
  const body = el('tbody');
  main.append(el('h1', {}, 'Events'), el('p', { class: 'muted' }, 'Live from the Docker API, newest first.'),
    el('table', { id: 'events' }, el('thead', {}, el('tr', {}, ['Time', 'Type', 'Action', 'Object', 'Attributes'].map(h => el('th', {}, h)))), body));
  followEvents(e => {
    const attrs = (e.Actor && e.Actor.Attributes) || {};
    body.prepend(el('tr', {}, el('td', {}, new Date((e.timeNano ? e.timeNano / 1e6 : e.time * 1000)).toLocaleTimeString()), el('td', {}, e.Type),
      el('td', {}, e.Action), el('td', {}, attrs.name || short((e.Actor || {}).ID)), el('td', { class: 'muted' }, Object.entries(attrs).filter(([k]) => k !== 'name').map(([k, v]) => `${k}=${v}`).join(' '))));
    while (body.children.length > 500) body.lastChild.remove();
  }, '?since=' + Math.floor(Date.now() / 1000 - 600));
}, 'Events');

// ---- Docker: stacks ----------------------------------------------------------------------------------------------

at(/^\/stacks$/, async main => {
  const out = el('div'), list = el('div', { id: 'stacks' });
  main.append(el('div', { class: 'toolbar' }, el('h1', {}, 'Stacks'), status.stacks ? el('a', { class: 'button primary', href: '#/stacks/new', id: 'new-stack' }, '+ Add stack') : null), out, list);
  const refresh = poll(async () => {
    let stacks;
    if (status.stacks) stacks = await api('api/stacks');
    else {
      const containers = await docker('containers/json?all=1');
      const by = new Map();
      for (const c of containers) {
        const p = (c.Labels || {})['com.docker.compose.project'];
        if (!p) continue;
        const s = by.get(p) || { name: p, containers: 0, running: 0, services: [], editable: false };
        s.containers++; if (c.State === 'running') s.running++;
        const svc = c.Labels['com.docker.compose.service']; if (svc && !s.services.includes(svc)) s.services.push(svc);
        by.set(p, s);
      }
      stacks = [...by.values()];
    }
    list.replaceChildren(table(['Name', 'Services', 'Containers', ''], stacks.map(s => el('tr', { 'data-name': s.name },
      el('td', {}, status.stacks ? el('a', { href: '#/stacks/' + s.name }, s.name) : s.name),
      el('td', {}, s.services.join(', ') || '-'),
      el('td', { class: 'count' }, `${s.running}/${s.containers} running`),
      el('td', { class: 'actions' }, status.stacks ? action('Down', () => api(`api/stacks/${s.name}/down`, { method: 'POST' }), { cls: 'danger', after: () => refresh(), into: out, testid: 'down' }) : null))), 'No stacks'));
  }, 3000);
}, 'Stacks');

at(/^\/stacks\/([^/]+)$/, async (main, which) => {
  const isNew = which === 'new';
  const name = el('input', { id: 'stack-name', placeholder: 'name', value: isNew ? '' : which, disabled: !isNew });
  const editor = el('textarea', { class: 'editor', id: 'stack-editor', spellcheck: 'false', placeholder: 'services:\n  web:\n    image: nginx:latest\n    ports: ["8080:80"]' });
  const upload = el('input', { type: 'file', id: 'stack-upload', accept: '.yml,.yaml' });
  const out = el('div', { id: 'stack-result' });
  const containers = el('div', { id: 'stack-containers' });
  upload.addEventListener('change', async () => { if (upload.files[0]) editor.value = await upload.files[0].text(); });
  editor.addEventListener('keydown', ev => {
    if (ev.key === 'Tab') { ev.preventDefault(); const s = editor.selectionStart; editor.setRangeText('  ', s, editor.selectionEnd, 'end'); }
  });
  if (!isNew) { const f = await api(`api/stacks/${which}`); editor.value = f.yaml || ''; }
  const stackName = () => (name.value || '').trim();
  const showError = e => {
    out.replaceChildren(errorBox(e));
    if (e.line) { // select the line the error names
      const lines = editor.value.split('\n');
      const start = lines.slice(0, e.line - 1).reduce((n, l) => n + l.length + 1, 0);
      editor.focus(); editor.setSelectionRange(start, start + (lines[e.line - 1] || '').length);
    }
  };
  const run = async (what) => {
    out.replaceChildren(el('div', { class: 'note' }, what === 'up' ? 'Deploying...' : what === 'plan' ? 'Planning...' : 'Taking down...'));
    try {
      if (what === 'plan') {
        const steps = await api(`api/stacks/${stackName()}/plan`, { method: 'POST', body: { yaml: editor.value } });
        out.replaceChildren(table(['Service', 'Container', 'Action', 'Why'], steps.map(s => el('tr', {}, el('td', {}, s.service), el('td', {}, s.container), el('td', {}, s.action), el('td', {}, s.reason)))));
      } else {
        const r = what === 'up' ? await api(`api/stacks/${stackName()}/up`, { method: 'POST', body: { yaml: editor.value } })
          : await api(`api/stacks/${stackName()}/down`, { method: 'POST' });
        out.replaceChildren(el('div', { class: 'note', id: 'stack-done' }, (what === 'up' ? 'Deployed' : 'Taken down') + '\n' + r.lines.join('\n')));
        if (isNew && what === 'up') history.replaceState(null, '', '#/stacks/' + stackName());
      }
    } catch (e) { showError(e); }
    refreshContainers();
  };
  main.append(el('h1', {}, isNew ? 'New stack' : 'Stack ' + which),
    el('div', { class: 'row' }, el('label', {}, 'Name ', name), el('label', {}, 'Upload a compose file ', upload)),
    editor,
    el('div', { class: 'row' },
      el('button', { id: 'stack-plan', onclick: () => run('plan') }, 'Plan'),
      el('button', { class: 'primary', id: 'stack-deploy', onclick: () => run('up') }, 'Deploy'),
      el('button', { class: 'danger', id: 'stack-down', onclick: () => run('down') }, 'Down')),
    out, el('h2', {}, 'Containers'), containers);
  const refreshContainers = poll(async () => {
    if (!stackName()) return;
    const list = await docker('containers/json?all=1&filters=' + encodeURIComponent(JSON.stringify({ label: ['com.docker.compose.project=' + stackName()] })));
    containers.replaceChildren(table(['Name', 'Service', 'State'], list.map(c => el('tr', { 'data-name': c.Names[0].replace(/^\//, '') },
      el('td', {}, el('a', { href: '#/containers/' + c.Id }, c.Names[0].replace(/^\//, ''))), el('td', {}, c.Labels['com.docker.compose.service']), el('td', { class: 'state' }, badge(c.State)))), 'No containers'));
  }, 2000);
}, 'Stack');

// ---- Kubernetes --------------------------------------------------------------------------------------------------

const nsPath = (kind, group) => `${group || 'api/v1'}/${k8sNamespace ? `namespaces/${encodeURIComponent(k8sNamespace)}/` : ''}${kind}`;

async function namespaceBar(main, title, after) {
  const select = el('select', { id: 'namespace' }, el('option', { value: '' }, 'all namespaces'));
  try {
    for (const n of (await k8s('api/v1/namespaces')).items) select.append(el('option', { value: n.metadata.name }, n.metadata.name));
  } catch (e) { /* the list still works for all namespaces */ }
  select.value = k8sNamespace;
  select.addEventListener('change', () => { k8sNamespace = select.value; route(); });
  main.append(el('div', { class: 'toolbar' }, el('h1', {}, title), el('label', {}, 'Namespace ', select)));
  if (after) main.append(after);
}

function conditionTrue(obj, type) {
  return ((obj.status || {}).conditions || []).some(c => c.type === type && c.status === 'True');
}

function podPhase(p) {
  const waiting = ((p.status || {}).containerStatuses || []).map(s => s.state && s.state.waiting && s.state.waiting.reason).find(Boolean);
  if (p.metadata.deletionTimestamp) return 'Terminating';
  return waiting || (p.status || {}).phase || 'Pending';
}

function podRow(p) {
  const statuses = (p.status || {}).containerStatuses || [];
  return el('tr', { 'data-name': p.metadata.name },
    el('td', {}, el('a', { href: `#/k8s/pods/${p.metadata.namespace}/${p.metadata.name}` }, p.metadata.name)),
    el('td', {}, p.metadata.namespace),
    el('td', { class: 'state' }, badge(podPhase(p))),
    el('td', { class: 'ready' }, `${statuses.filter(s => s.ready).length}/${(p.spec.containers || []).length}`),
    el('td', {}, statuses.reduce((n, s) => n + (s.restartCount || 0), 0)),
    el('td', {}, p.spec.nodeName || '-'),
    el('td', {}, (p.status || {}).podIP || '-'),
    el('td', {}, ago(p.metadata.creationTimestamp)));
}
const podHeaders = ['Name', 'Namespace', 'Status', 'Ready', 'Restarts', 'Node', 'IP', 'Age'];

at(/^\/k8s$/, async main => {
  const out = el('div');
  const summary = el('div', { class: 'cards', id: 'cluster-cards' });
  const nodes = el('div', { id: 'nodes' });
  main.append(el('h1', {}, 'Cluster'), el('p', { class: 'muted' }, 'API server: ', status.kubernetes), summary, el('h2', {}, 'Nodes'), out, nodes);
  const refresh = poll(async () => {
    const [n, pods, deps, svcs, ns] = await Promise.all([k8s('api/v1/nodes'), k8s('api/v1/pods'), k8s('apis/apps/v1/deployments'), k8s('api/v1/services'), k8s('api/v1/namespaces')]);
    summary.replaceChildren(card('count-nodes', 'Nodes', n.items.length, `${n.items.filter(x => conditionTrue(x, 'Ready')).length} ready`),
      card('count-pods', 'Pods', pods.items.length, `${pods.items.filter(p => p.status && p.status.phase === 'Running').length} running`),
      card('count-deployments', 'Deployments', deps.items.length), card('count-services', 'Services', svcs.items.length), card('count-namespaces', 'Namespaces', ns.items.length));
    nodes.replaceChildren(table(['Name', 'Status', 'Roles', 'Pod CIDR', 'CPU', 'Memory', 'Pods', 'Version', ''], n.items.map(node => {
      const ready = conditionTrue(node, 'Ready');
      const roles = Object.keys(node.metadata.labels || {}).filter(l => l.startsWith('node-role.kubernetes.io/')).map(l => l.split('/')[1]).join(',') || '<none>';
      const cap = (node.status || {}).capacity || {};
      const name = node.metadata.name;
      const cordon = on => k8s(`api/v1/nodes/${name}`, { method: 'PATCH', body: JSON.stringify({ spec: { unschedulable: on ? true : null } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
      return el('tr', { 'data-name': name },
        el('td', {}, name),
        el('td', { class: 'state' }, badge(ready ? 'Ready' : 'NotReady'), node.spec.unschedulable ? [' ', badge('SchedulingDisabled')] : null),
        el('td', {}, roles), el('td', {}, node.spec.podCIDR || '-'), el('td', {}, cap.cpu || '-'), el('td', {}, cap.memory || '-'),
        el('td', {}, pods.items.filter(p => p.spec.nodeName === name).length), el('td', {}, ((node.status || {}).nodeInfo || {}).kubeletVersion || '-'),
        el('td', { class: 'actions' },
          node.spec.unschedulable ? action('Uncordon', () => cordon(false), { after: () => refresh(), into: out, testid: 'uncordon' })
            : action('Cordon', () => cordon(true), { after: () => refresh(), into: out, testid: 'cordon' }),
          action('Drain', () => drain(name, pods.items), { cls: 'danger', after: () => refresh(), into: out, testid: 'drain' })));
    }), 'No nodes'));
  }, 2000);
}, 'Cluster');

/** kubectl drain: cordon, then evict every pod on the node but DaemonSets' and mirror pods (a budget's refusal is shown). */
async function drain(node, pods) {
  await k8s(`api/v1/nodes/${node}`, { method: 'PATCH', body: JSON.stringify({ spec: { unschedulable: true } }), headers: { 'Content-Type': 'application/merge-patch+json' } });
  const victims = pods.filter(p => p.spec.nodeName === node && !(p.metadata.ownerReferences || []).some(o => o.kind === 'DaemonSet') && !(p.metadata.annotations || {})['kubernetes.io/config.mirror']);
  for (const p of victims) {
    await k8s(`api/v1/namespaces/${p.metadata.namespace}/pods/${p.metadata.name}/eviction`, {
      method: 'POST', body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name: p.metadata.name, namespace: p.metadata.namespace } },
    });
  }
}

at(/^\/k8s\/namespaces$/, async main => {
  const out = el('div'), list = el('div', { id: 'namespaces' });
  const name = el('input', { id: 'namespace-name', placeholder: 'name' });
  main.append(el('h1', {}, 'Namespaces'), el('div', { class: 'row' }, name, action('Create', () => k8s('api/v1/namespaces', { method: 'POST', body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name: name.value } } }),
    { cls: 'primary', after: () => refresh(), into: out })), out, list);
  const refresh = poll(async () => {
    const ns = await k8s('api/v1/namespaces');
    list.replaceChildren(table(['Name', 'Status', 'Age', ''], ns.items.map(n => el('tr', { 'data-name': n.metadata.name },
      el('td', {}, n.metadata.name), el('td', {}, badge((n.status || {}).phase || 'Active')), el('td', {}, ago(n.metadata.creationTimestamp)),
      el('td', {}, action('Delete', () => k8s(`api/v1/namespaces/${n.metadata.name}`, { method: 'DELETE' }), { cls: 'danger', after: () => refresh(), into: out })))), 'No namespaces'));
  }, 3000);
}, 'Namespaces');

const workloadKinds = [
  { kind: 'Deployment', path: 'deployments', group: 'apis/apps/v1' },
  { kind: 'StatefulSet', path: 'statefulsets', group: 'apis/apps/v1' },
  { kind: 'DaemonSet', path: 'daemonsets', group: 'apis/apps/v1' },
  { kind: 'Job', path: 'jobs', group: 'apis/batch/v1' },
];

function readiness(kind, o) {
  const s = o.status || {};
  if (kind === 'DaemonSet') return `${s.numberReady || 0}/${s.desiredNumberScheduled || 0}`;
  if (kind === 'Job') return `${s.succeeded || 0}/${(o.spec || {}).completions || 1}`;
  return `${s.readyReplicas || 0}/${(o.spec || {}).replicas ?? 1}`;
}

at(/^\/k8s\/apps$/, async main => {
  const out = el('div'), body = el('div', { id: 'applications' });
  await namespaceBar(main, 'Applications', out);
  main.append(body);
  const refresh = poll(async () => {
    const lists = await Promise.all(workloadKinds.map(w => k8s(nsPath(w.path, w.group)).then(l => l.items.map(o => ({ w, o }))).catch(() => [])));
    const rows = lists.flat().map(({ w, o }) => {
      const scalable = w.kind === 'Deployment' || w.kind === 'StatefulSet';
      const replicas = el('input', { type: 'number', min: 0, value: String((o.spec || {}).replicas ?? 1), style: 'width:64px', 'data-testid': 'replicas' });
      return el('tr', { 'data-name': o.metadata.name, 'data-kind': w.kind },
        el('td', {}, el('a', { href: `#/k8s/apps/${o.metadata.namespace}/${w.kind}/${o.metadata.name}` }, o.metadata.name)),
        el('td', {}, w.kind), el('td', {}, o.metadata.namespace), el('td', { class: 'ready' }, readiness(w.kind, o)),
        el('td', {}, ((o.spec.template || {}).spec || {}).containers ? o.spec.template.spec.containers.map(c => c.image).join(', ') : '-'),
        el('td', { class: 'actions' }, scalable ? [replicas, action('Scale', () => scale(w, o, Number(replicas.value)), { after: () => refresh(), into: out, testid: 'scale' })] : null));
    });
    body.replaceChildren(table(['Name', 'Kind', 'Namespace', 'Ready', 'Images', ''], rows, 'No applications'));
  }, 1500);
}, 'Applications');

const scale = (w, o, replicas) => k8s(`${w.group}/namespaces/${o.metadata.namespace}/${w.path}/${o.metadata.name}/scale`, {
  method: 'PATCH', body: JSON.stringify({ spec: { replicas } }), headers: { 'Content-Type': 'application/merge-patch+json' },
});

function selectorOf(o) {
  const labels = ((o.spec || {}).selector || {}).matchLabels || {};
  return Object.entries(labels).map(([k, v]) => `${k}=${v}`).join(',');
}

at(/^\/k8s\/apps\/([^/]+)\/([^/]+)\/([^/]+)$/, async (main, ns, kind, name) => {
  const w = workloadKinds.find(x => x.kind === kind);
  const out = el('div'), head = el('div'), pods = el('div', { id: 'app-pods' }), history = el('div', { id: 'rollout-history' });
  main.append(head, out, el('h2', {}, 'Pods'), pods);
  if (kind === 'Deployment') main.append(el('h2', {}, 'Rollout history'), history);
  const yaml = el('pre');
  main.append(el('details', {}, el('summary', {}, 'Object'), yaml));
  const refresh = poll(async () => {
    const o = await k8s(`${w.group}/namespaces/${ns}/${w.path}/${name}`);
    yaml.textContent = JSON.stringify(o, null, 2);
    head.replaceChildren(el('h1', {}, `${kind} ${name}`), el('p', { class: 'muted' }, `${ns} · ready ${readiness(kind, o)}`));
    const p = await k8s(`api/v1/namespaces/${ns}/pods?labelSelector=${encodeURIComponent(selectorOf(o))}`);
    pods.replaceChildren(table(podHeaders, p.items.map(podRow), 'No pods'));
    if (kind === 'Deployment') {
      const rs = (await k8s(`apis/apps/v1/namespaces/${ns}/replicasets?labelSelector=${encodeURIComponent(selectorOf(o))}`)).items
        .filter(r => (r.metadata.ownerReferences || []).some(x => x.kind === 'Deployment' && x.name === name))
        .sort((a, b) => rev(b) - rev(a));
      const current = rev(rs.find(r => (r.status || {}).replicas > 0) || rs[0] || {});
      history.replaceChildren(table(['Revision', 'ReplicaSet', 'Images', 'Replicas', 'Change cause', ''], rs.map(r => el('tr', { 'data-revision': rev(r) },
        el('td', {}, rev(r)), el('td', {}, r.metadata.name), el('td', {}, r.spec.template.spec.containers.map(c => c.image).join(', ')),
        el('td', {}, `${(r.status || {}).readyReplicas || 0}/${r.spec.replicas}`), el('td', {}, (r.metadata.annotations || {})['kubernetes.io/change-cause'] || '-'),
        el('td', {}, rev(r) !== current ? action('Roll back to this', () => rollback(o, r), { after: () => refresh(), into: out, testid: 'rollback' }) : badge('current', 'Active')))), 'No revisions'));
    }
  }, 1500);
}, 'Application');

const rev = r => Number(((r.metadata || {}).annotations || {})['deployment.kubernetes.io/revision'] || 0);

/** kubectl rollout undo: the Deployment's template becomes the ReplicaSet's (without its pod-template-hash). */
async function rollback(deployment, rs) {
  const template = JSON.parse(JSON.stringify(rs.spec.template));
  if (template.metadata && template.metadata.labels) delete template.metadata.labels['pod-template-hash'];
  const d = await k8s(`apis/apps/v1/namespaces/${deployment.metadata.namespace}/deployments/${deployment.metadata.name}`);
  d.spec.template = template;
  await k8s(`apis/apps/v1/namespaces/${d.metadata.namespace}/deployments/${d.metadata.name}`, { method: 'PUT', body: d });
}

at(/^\/k8s\/pods$/, async main => {
  const body = el('div', { id: 'pods' });
  await namespaceBar(main, 'Pods');
  main.append(body);
  poll(async () => {
    const pods = await k8s(nsPath('pods'));
    if (!unchanged('pods', listKey(pods))) body.replaceChildren(table(podHeaders, pods.items.map(podRow), 'No pods'));
  }, 1500);
}, 'Pods');

at(/^\/k8s\/pods\/([^/]+)\/([^/]+)$/, async (main, ns, name) => {
  const head = el('div'), out = el('div');
  const container = el('select', { id: 'pod-container' });
  main.append(head, out);
  const p = await k8s(`api/v1/namespaces/${ns}/pods/${name}`);
  for (const c of p.spec.containers) container.append(el('option', { value: c.name }, c.name));
  poll(async () => {
    const pod = await k8s(`api/v1/namespaces/${ns}/pods/${name}`);
    head.replaceChildren(el('h1', {}, `Pod ${name} `, badge(podPhase(pod))), el('p', { class: 'muted' }, `${ns} · node ${pod.spec.nodeName || '-'} · IP ${(pod.status || {}).podIP || '-'}`),
      el('div', { class: 'row' }, action('Delete', () => k8s(`api/v1/namespaces/${ns}/pods/${name}`, { method: 'DELETE' }), { cls: 'danger', into: out })));
  }, 3000);
  const logs = el('pre', { id: 'pod-logs' });
  let logsAbort = null;
  const startLogs = async () => {
    if (logsAbort) logsAbort.abort();
    logsAbort = new AbortController();
    view.stops.push(() => logsAbort.abort());
    const signal = logsAbort.signal;
    logs.textContent = '';
    try {
      const response = await k8s(`api/v1/namespaces/${ns}/pods/${name}/log?follow=true&tailLines=200&container=${encodeURIComponent(container.value)}`, { raw: true, signal });
      const reader = response.body.getReader(), decoder = new TextDecoder();
      for (;;) { const { value, done } = await reader.read(); if (done) break; logs.append(decoder.decode(value, { stream: true })); logs.scrollTop = logs.scrollHeight; }
    } catch (e) { if (!signal.aborted) logs.append('\n[' + e.message + ']'); }
  };
  container.addEventListener('change', startLogs);
  const cmd = el('input', { id: 'pod-command', value: 'sh' });
  const termBox = el('div', { class: 'terminal', id: 'pod-console' });
  main.append(el('div', { class: 'row' }, el('label', {}, 'Container ', container)), el('h2', {}, 'Logs'), logs,
    el('h2', {}, 'Shell'), el('div', { class: 'row' }, el('label', {}, 'command ', cmd),
      el('button', { class: 'primary', id: 'pod-console-connect', onclick: () => openTerminal(termBox, `api/k8s-console/${ns}/${name}?container=${encodeURIComponent(container.value)}&cmd=${encodeURIComponent(cmd.value)}`) }, 'Connect')),
    termBox);
  startLogs();
}, 'Pod');

at(/^\/k8s\/services$/, async main => {
  const svcBody = el('div', { id: 'services' }), ingBody = el('div', { id: 'ingresses' });
  await namespaceBar(main, 'Services & Ingresses');
  main.append(el('h2', {}, 'Services'), svcBody, el('h2', {}, 'Ingresses'), ingBody);
  poll(async () => {
    const svcs = await k8s(nsPath('services'));
    svcBody.replaceChildren(table(['Name', 'Namespace', 'Type', 'Cluster IP', 'Ports', 'External'], svcs.items.map(s => el('tr', { 'data-name': s.metadata.name },
      el('td', {}, s.metadata.name), el('td', {}, s.metadata.namespace), el('td', {}, s.spec.type), el('td', {}, s.spec.clusterIP || '-'),
      el('td', {}, (s.spec.ports || []).map(p => `${p.port}${p.nodePort ? ':' + p.nodePort : ''}/${p.protocol || 'TCP'}`).join(', ')),
      el('td', {}, ((((s.status || {}).loadBalancer || {}).ingress) || []).map(i => i.ip || i.hostname).join(', ') || '-'))), 'No services'));
    const ings = await k8s(nsPath('ingresses', 'apis/networking.k8s.io/v1')).catch(() => ({ items: [] }));
    ingBody.replaceChildren(table(['Name', 'Namespace', 'Class', 'Hosts', 'Backends'], ings.items.map(i => el('tr', {},
      el('td', {}, i.metadata.name), el('td', {}, i.metadata.namespace), el('td', {}, i.spec.ingressClassName || '-'),
      el('td', {}, (i.spec.rules || []).map(r => r.host || '*').join(', ')),
      el('td', {}, (i.spec.rules || []).flatMap(r => ((r.http || {}).paths || []).map(p => `${p.path || '/'} → ${p.backend.service ? p.backend.service.name + ':' + (p.backend.service.port.number || p.backend.service.port.name) : '-'}`)).join(', ')))), 'No ingresses'));
  }, 3000);
}, 'Services');

at(/^\/k8s\/config$/, async main => {
  const cmBody = el('div', { id: 'configmaps' }), secretBody = el('div', { id: 'secrets' });
  await namespaceBar(main, 'ConfigMaps & Secrets');
  main.append(el('h2', {}, 'ConfigMaps'), cmBody, el('h2', {}, 'Secrets'), el('p', { class: 'muted' }, 'Values stay hidden until you ask for them.'), secretBody);
  const shown = new Set();
  const refresh = poll(async () => {
    const cms = await k8s(nsPath('configmaps'));
    cmBody.replaceChildren(table(['Name', 'Namespace', 'Data'], cms.items.map(c => el('tr', {},
      el('td', {}, c.metadata.name), el('td', {}, c.metadata.namespace),
      el('td', {}, Object.entries(c.data || {}).map(([k, v]) => el('div', {}, el('b', {}, k), ': ', v.length > 200 ? v.slice(0, 200) + '…' : v))))), 'No ConfigMaps'));
    const secrets = await k8s(nsPath('secrets'));
    secretBody.replaceChildren(table(['Name', 'Namespace', 'Type', 'Data', ''], secrets.items.map(s => {
      const key = s.metadata.namespace + '/' + s.metadata.name;
      const visible = shown.has(key);
      return el('tr', { 'data-name': s.metadata.name },
        el('td', {}, s.metadata.name), el('td', {}, s.metadata.namespace), el('td', {}, s.type),
        el('td', {}, Object.entries(s.data || {}).map(([k, v]) => el('div', {}, el('b', {}, k), ': ', el('span', { class: 'secret-value' }, visible ? decode64(v) : '••••••••')))),
        el('td', {}, el('button', { 'data-testid': 'reveal', onclick: () => { if (visible) shown.delete(key); else shown.add(key); refresh(); } }, visible ? 'Hide' : 'Show')));
    }), 'No Secrets'));
  }, 5000);
}, 'Config');

function decode64(v) {
  try { return new TextDecoder().decode(Uint8Array.from(atob(v), c => c.charCodeAt(0))); } catch { return v; }
}

at(/^\/k8s\/storage$/, async main => {
  const pvcBody = el('div', { id: 'pvcs' }), pvBody = el('div', { id: 'pvs' });
  await namespaceBar(main, 'Volumes');
  main.append(el('h2', {}, 'Persistent volume claims'), pvcBody, el('h2', {}, 'Persistent volumes'), pvBody);
  poll(async () => {
    const pvcs = await k8s(nsPath('persistentvolumeclaims'));
    // a replicated volume's state (the ReplicasHealthy condition its node writes): healthy, degraded (rebuilding) or faulted
    const replicas = c => ((c.status || {}).conditions || []).find(x => x.type === 'ReplicasHealthy');
    pvcBody.replaceChildren(table(['Name', 'Namespace', 'Status', 'Volume', 'Capacity', 'Class', 'Replicas'], pvcs.items.map(c => el('tr', {},
      el('td', {}, c.metadata.name), el('td', {}, c.metadata.namespace), el('td', {}, badge((c.status || {}).phase || 'Pending')), el('td', {}, c.spec.volumeName || '-'),
      el('td', {}, (((c.status || {}).capacity) || {}).storage || ((c.spec.resources || {}).requests || {}).storage || '-'), el('td', {}, c.spec.storageClassName || '-'),
      el('td', { class: 'replicas' }, replicas(c) ? [badge(replicas(c).reason), ' ', replicas(c).message] : '-'))), 'No claims'));
    const pvs = await k8s('api/v1/persistentvolumes');
    pvBody.replaceChildren(table(['Name', 'Status', 'Claim', 'Capacity', 'Reclaim policy', 'Class'], pvs.items.map(v => el('tr', {},
      el('td', {}, v.metadata.name), el('td', {}, badge((v.status || {}).phase || '-')), el('td', {}, v.spec.claimRef ? `${v.spec.claimRef.namespace}/${v.spec.claimRef.name}` : '-'),
      el('td', {}, (v.spec.capacity || {}).storage || '-'), el('td', {}, v.spec.persistentVolumeReclaimPolicy || '-'), el('td', {}, v.spec.storageClassName || '-'))), 'No volumes'));
  }, 3000);
}, 'Storage');

at(/^\/k8s\/events$/, async main => {
  const body = el('div', { id: 'k8s-events' });
  await namespaceBar(main, 'Events');
  main.append(body);
  poll(async () => {
    const events = (await k8s(nsPath('events'))).items;
    const time = e => Date.parse(e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp) || 0;
    events.sort((a, b) => time(b) - time(a));
    body.replaceChildren(table(['Last seen', 'Type', 'Reason', 'Object', 'Message', 'Count'], events.slice(0, 300).map(e => el('tr', {},
      el('td', {}, ago(e.lastTimestamp || e.eventTime || e.metadata.creationTimestamp)), el('td', {}, e.type), el('td', {}, e.reason),
      el('td', {}, `${(e.involvedObject || {}).kind}/${(e.involvedObject || {}).name}`), el('td', {}, e.message), el('td', {}, e.count || 1))), 'No events'));
  }, 2000);
}, 'Events');

at(/^\/k8s\/helm$/, async main => {
  const body = el('div', { id: 'helm-releases' });
  main.append(el('h1', {}, 'Helm releases'), body);
  poll(async () => {
    const releases = await api('api/helm/releases');
    body.replaceChildren(table(['Name', 'Namespace', 'Revision', 'Status', 'Chart', 'App version', 'Updated'], releases.map(r => el('tr', { 'data-name': r.name },
      el('td', {}, r.name), el('td', {}, r.namespace), el('td', {}, r.revision), el('td', {}, badge(r.status)), el('td', {}, r.chart || '-'),
      el('td', {}, r.appVersion || '-'), el('td', {}, r.updated ? ago(r.updated) : '-'))), 'No releases'));
  }, 5000);
}, 'Helm');

at(/^\/k8s\/apply$/, async main => {
  const editor = el('textarea', { class: 'editor', id: 'manifest-editor', spellcheck: 'false', placeholder: 'apiVersion: apps/v1\nkind: Deployment\n...' });
  const out = el('div', { id: 'apply-result' });
  main.append(el('h1', {}, 'Apply a manifest'), el('p', { class: 'muted' }, 'One or more documents, applied server-side in order (as kubectl apply --server-side).'), editor,
    el('div', { class: 'row' }, el('button', { class: 'primary', id: 'apply', onclick: async () => {
      out.replaceChildren(el('div', { class: 'note' }, 'Applying...'));
      const response = await fetch('api/k8s-apply', { method: 'POST', credentials: 'same-origin', headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': status.csrf }, body: JSON.stringify({ yaml: editor.value }) });
      const r = await response.json();
      out.replaceChildren(r.applied && r.applied.length ? el('div', { class: 'note' }, r.applied.map(a => a + ' applied').join('\n')) : '', r.message ? errorBox(new Error(r.message)) : '');
      if (r.line) {
        const lines = editor.value.split('\n');
        const start = lines.slice(0, r.line - 1).reduce((n, l) => n + l.length + 1, 0);
        editor.focus(); editor.setSelectionRange(start, start + (lines[r.line - 1] || '').length);
      }
    } }, 'Apply')), out);
}, 'Apply');

// ---- settings ----------------------------------------------------------------------------------------------------

at(/^\/tokens$/, async main => {
  const out = el('div'), list = el('div', { id: 'tokens' });
  const name = el('input', { id: 'token-name', placeholder: 'name (what it is for)' });
  main.append(el('h1', {}, 'API tokens'), el('p', { class: 'muted' }, 'Scripts call this dashboard\'s API with Authorization: Bearer TOKEN. A token is shown once; only its hash is kept.'),
    el('div', { class: 'row' }, name, action('Create', async () => {
      const t = await api('api/tokens', { method: 'POST', body: { name: name.value } });
      out.replaceChildren(el('div', { class: 'note' }, 'Token ', el('b', {}, t.name), ' (copy it now, it is not shown again): ', el('code', { id: 'new-token' }, t.token)));
    }, { cls: 'primary', after: () => refresh(), into: out })), out, list);
  const refresh = poll(async () => {
    const tokens = await api('api/tokens');
    list.replaceChildren(table(['Name', 'Created', 'Last used', ''], tokens.map(t => el('tr', {}, el('td', {}, t.name), el('td', {}, ago(t.created)), el('td', {}, t.lastUsed ? ago(t.lastUsed) : 'never'),
      el('td', {}, action('Delete', () => api(`api/tokens/${encodeURIComponent(t.name)}`, { method: 'DELETE' }), { cls: 'danger', after: () => refresh(), into: out })))), 'No tokens'));
  }, 10000);
}, 'Tokens');

boot();
