// kickfleet's status page: live updates through server-sent events
// (/api/v1/events, no polling), the fleet table's search, sort and pages
// without reloading, and a question before each action.  The pages work without it.
'use strict';
(function () {
  const page = document.body.dataset.page;
  const host = document.body.dataset.host;
  const fmt = (t) => t > 0 ? new Date(t * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC') : '-';
  const STATES = ['new', 'booting', 'installing', 'installed', 'configured', 'drifted', 'failed'];

  // --- actions: ask first, then post with confirm=1 ---
  document.querySelectorAll('form.act').forEach((f) => {
    f.addEventListener('submit', (ev) => {
      if (!window.confirm(f.dataset.confirm)) { ev.preventDefault(); return; }
      const c = document.createElement('input');
      c.type = 'hidden'; c.name = 'confirm'; c.value = '1';
      f.appendChild(c);
    });
  });

  // --- the fleet table: one page of it, rendered by the server; the
  // search, the sort links and the pager fetch the page again and swap
  // its table in place (the live stream stays open) ---
  const search = document.getElementById('search');
  const form = document.getElementById('filters');
  let pending = null;
  function show(url, push) {
    if (pending) pending.abort();
    pending = new AbortController();
    fetch(url, { signal: pending.signal, credentials: 'same-origin' })
      .then((r) => r.text())
      .then((text) => {
        const doc = new DOMParser().parseFromString(text, 'text/html');
        const view = doc.getElementById('view');
        if (!view) { window.location.assign(url); return; }
        document.getElementById('view').replaceWith(document.adoptNode(view));
        history[push ? 'pushState' : 'replaceState'](null, '', url);
      })
      .catch((e) => { if (e.name !== 'AbortError') window.location.assign(url); });
  }
  function formUrl() {
    const q = new URLSearchParams(new FormData(form));
    for (const [k, v] of Array.from(q.entries())) if (!v) q.delete(k);
    const s = q.toString();
    return '/ui/' + (s ? '?' + s : '');
  }
  if (search && form) {
    let timer = 0;
    search.addEventListener('input', () => { clearTimeout(timer); timer = setTimeout(() => show(formUrl(), false), 150); });
  }
  document.addEventListener('click', (ev) => {
    const a = ev.target.closest && ev.target.closest('a.nav');
    if (!a || ev.button !== 0 || ev.metaKey || ev.ctrlKey || ev.shiftKey) return;
    ev.preventDefault();
    show(a.getAttribute('href'), true);
  });
  window.addEventListener('popstate', () => { if (page === 'fleet') show(location.pathname + location.search, false); });

  function setState(td, st) {
    td.textContent = st;
    td.className = 'st st-' + st;
  }
  function updateRow(h) {
    const tr = document.getElementById('h-' + h.name);
    if (!tr) return;
    tr.dataset.state = h.state;
    tr.dataset.since = h.since;
    const c = tr.cells;
    setState(c[4], h.state);
    c[5].textContent = fmt(h.since);
    c[6].textContent = h.netboot ? 'on' : 'off';
    c[7].textContent = h.last_run ? fmt(h.last_run.time) : '-';
    c[8].textContent = h.drift_count;
    c[9].textContent = h.facts || '';
    tr.classList.remove('flash'); void tr.offsetWidth; tr.classList.add('flash');
  }
  function updateHost(h) {
    if (h.name !== host) return;
    const st = document.getElementById('d-state');
    if (st) setState(st, h.state);
    const set = (id, v) => { const e = document.getElementById(id); if (e) e.textContent = v; };
    set('d-since', fmt(h.since));
    set('d-netboot', h.netboot ? 'on' : 'off');
    set('d-power', h.power || '-');
    set('d-drift', h.drift_count);
    if (h.last_run) set('d-run', fmt(h.last_run.time));
  }
  function addLog(ev) {
    const t = document.getElementById('history');
    if (!t || ev.host !== host) return;
    const tr = t.tBodies[0].insertRow(0);
    [fmt(ev.time), ev.what, ev.detail || ''].forEach((v) => { tr.insertCell().textContent = v; });
    tr.classList.add('flash');
  }
  function summary(s) {
    const set = (id, v) => { const e = document.getElementById(id); if (e) e.textContent = v; };
    for (const k of STATES) set('c-' + k, s.states[k]);
    set('c-progress', s.in_progress);
    set('c-installed', s.installed);
    set('c-total', s.total);
    const p = document.getElementById('p-installed');
    if (p) { p.max = s.total || 1; p.value = s.installed; }
  }

  // --- live updates ---
  if (page !== 'fleet' && page !== 'host') return;
  const live = document.getElementById('live');
  const url = page === 'host' ? '/api/v1/hosts/' + encodeURIComponent(host) + '/events' : '/api/v1/events';
  const es = new EventSource(url);
  es.onopen = () => { if (live) live.classList.add('on'); document.body.dataset.live = '1'; };
  es.onerror = () => { if (live) live.classList.remove('on'); document.body.dataset.live = '0'; };
  es.addEventListener('host', (m) => { const h = JSON.parse(m.data); if (page === 'fleet') updateRow(h); else updateHost(h); });
  es.addEventListener('log', (m) => { if (page === 'host') addLog(JSON.parse(m.data)); });
  es.addEventListener('summary', (m) => summary(JSON.parse(m.data)));
  es.addEventListener('reload', () => { if (page === 'fleet') window.location.reload(); });
})();
