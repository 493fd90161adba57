// kickfleet's status page: live updates through server-sent events
// (/api/v1/events, no polling), sorting and searching the fleet table in
// place, and a question before each action.  The pages work without it.
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

  // --- the fleet table ---
  const table = document.getElementById('fleet');
  const tbody = table ? table.tBodies[0] : null;
  const search = document.getElementById('search');
  const shown = document.getElementById('shown');
  function applySearch() {
    if (!tbody) return;
    const q = search.value.trim();
    let n = 0;
    for (const tr of tbody.rows) {
      const hit = !q || tr.id.slice(2).includes(q);
      tr.hidden = !hit;
      if (hit) n++;
    }
    if (shown) shown.textContent = n + ' hosts';
  }
  if (search && tbody) search.addEventListener('input', applySearch);
  if (table) {
    const heads = table.tHead.rows[0].cells;
    for (let i = 0; i < heads.length; i++) {
      heads[i].addEventListener('click', () => {
        const desc = heads[i].classList.contains('asc');
        for (const h of heads) h.classList.remove('asc', 'desc');
        heads[i].classList.add(desc ? 'desc' : 'asc');
        const key = heads[i].dataset.key;
        const val = (tr) => key === 'state' ? STATES.indexOf(tr.dataset.state)
          : key === 'since' ? Number(tr.dataset.since) : key === 'drift' ? Number(tr.cells[i].textContent)
          : tr.cells[i].textContent;
        const rows = Array.from(tbody.rows);
        rows.sort((a, b) => { const x = val(a), y = val(b); return (x < y ? -1 : x > y ? 1 : 0) * (desc ? -1 : 1); });
        tbody.append(...rows);
      });
    }
  }

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
