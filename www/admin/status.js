// status.js: the operator status page.  Fetches status.json (version 1) from this directory
// every 5 s and renders it.  Every string in the document is untrusted (registry names and
// causes come from the outside world): the DOM is built with createElement and text nodes
// only, never innerHTML.  Relative times ("2 min ago") are measured against the document's
// own "generated" time, so a skewed browser clock cannot make them lie.  The helpers it
// shares with the global page (el, the time formats...) are in common.js, loaded first.
'use strict';

const REFRESH_MS = 5000; // pause between the end of one fetch and the start of the next
const TIMEOUT_MS = 4000; // a fetch that takes longer counts as a failure
const LIMIT = 200; // registries per answer; the server caps items at this
const DEBOUNCE_MS = 300;

const st = {
  doc: null, // the last document received
  okAt: 0, // browser time of the last good fetch
  failSince: 0, // browser time of the first failure after it (0: not failing)
  failWhy: '',
  query: '',
  timer: 0,
  inflight: null, // AbortController of the fetch under way
  paused: false, // a refresh came due while the page was hidden
  banner: '', // the banner as last drawn, to redraw only on change
  lastHeadline: '', // the headline the last good document gave
};

// Reference time for "ago": the responder's clock when it wrote the document.
function refTime() {
  return (st.doc && parseTime(st.doc.generated)) || Date.now();
}

// A table cell with a relative time, the absolute one in its title.
function timeCell(iso) {
  return el('td', { class: 'time', title: absTime(iso) }, ago(iso, refTime()));
}

function setText(id, text, level) {
  const e = $(id);
  if (e.textContent !== text) e.textContent = text;
  if (level !== undefined) e.closest('.card').dataset.level = level;
}

// The banner: [state, headline, detail] from a document.
function bannerFor(doc) {
  const a = doc.answers || {};
  const reg = doc.registries || {};
  const ks = doc.kill_switch || {};
  if (a.regionwide && a.reason === 'passthrough') {
    return ['passthrough', 'PASS-THROUGH: every registry answers 200: failover is OFF in this region',
      ks.present ? `Because the kill switch ${str(ks.path)} is present: remove it to enforce again.`
        : `Because the configuration sets mode = "${str(doc.mode)}".`];
  }
  if (a.regionwide && a.reason === 'guard') {
    // The prober's failover guard (docs/guard.md): deliberate, loud, and a human's to decide.
    const g = doc.guard || {};
    const over = num(g.bound) === null ? '' : `, more than its bound of ${g.bound}${g.max_failing ? ` (${str(g.max_failing)})` : ''}`;
    return ['guard',
      `FAILOVER GUARD: every registry answers 200 (guard): ${num(g.failing) || 0} of ${num(g.multi_region) || 0} multi-region registries fail${over}`,
      'The prober holds failover: this many leaving at once looks more like its own trouble than the region\'s. ' +
      'If the region is really down, a human must let it through: deephealthctl override add region allow-failover -e DURATION -r REASON, ' +
      'on the probers. It lets go by itself once the count stays at or under the bound.'];
  }
  if (a.regionwide) {
    const reason = str(a.reason) || 'unknown reason';
    return ['failing-open',
      `FAILING OPEN: every registry answers ${num(a.http) || 200} (${reason}): failover is OFF in this region`,
      'Load balancers see every registry here as healthy, so a real outage here will not move traffic away.'];
  }
  const fail = num(reg.fail) || 0;
  const warn = num(reg.warn) || 0;
  if (doc.mode === 'shadow') {
    return ['passthrough', 'SHADOW: every registry answers 200: failover is OFF in this region',
      `Mode is shadow: enforce would fail over ${plural(fail, 'registry', 'registries')}.`];
  }
  // What probes get (overrides applied) when the responder says; else the snapshot's verdicts.
  const over = num(a.failing_over) === null ? fail : a.failing_over;
  const head = over === 1 ? 'Enforcing: 1 registry failing over' : `Enforcing: ${over} registries failing over`;
  let detail = `${num(reg.pass) || 0} of ${num(reg.total) || 0} pass`;
  if (warn) detail += `; ${warn} degraded (still answering 200)`;
  if (over !== fail) detail += `; ${plural(fail, 'registry fails', 'registries fail')} by the snapshot, overrides decide the rest`;
  return ['ok', head, detail + '.'];
}

function setBanner(state, headline, detail) {
  const key = `${state}\n${headline}\n${detail}`;
  if (key === st.banner) return;
  st.banner = key;
  const b = $('banner');
  b.dataset.state = state;
  b.replaceChildren(el('strong', { class: 'headline' }, headline), detail ? ' ' : null, detail ? el('span', { class: 'detail' }, detail) : null);
}

// Warnings shown under the banner: [kind, text, level] from a document.
function warningsFor(doc) {
  const w = [];
  const s = doc.snapshot || {};
  const ov = Array.isArray(doc.overrides) ? doc.overrides : [];
  if (doc.config_loaded === false) w.push(['config', `Configuration not loaded (${str(doc.config)}): every answer fails open.`, 'fail']);
  if (s.blind) {
    w.push(['blind', 'Snapshot is BLIND: every witness check of the last prober pass failed, so it could not tell ' +
      'failing dependencies from its own trouble; every answer fails open. See the recent events.', 'fail']);
  }
  if (s.guard && !(doc.answers || {}).regionwide) {
    // Flagged, yet not what every answer is: something before it decides (kill switch, stale...).
    w.push(['guard', 'The snapshot is flagged by the prober\'s failover guard: once nothing above it decides, every registry answers 200 guard.', 'warn']);
  }
  if (s.state && s.state !== 'ok') {
    w.push(['snapshot', `Snapshot unusable: ${str(s.state)}${s.detail ? ` (${str(s.detail)})` : ''}: ${str(s.path)}`, 'fail']);
  } else if (num(s.age) !== null && num(s.max_age) !== null && s.age > s.max_age) {
    w.push(['stale', `Snapshot is ${s.age} s old, older than max_age ${s.max_age} s: is the prober running?`, 'fail']);
  }
  // Each override file: this node's, and the region-wide one (docs/overrides.md).
  for (const [key, name, kind] of [['overrides_file', 'Override file', 'overrides'],
    ['region_overrides_file', 'Region-wide override file', 'region-overrides']]) {
    const of = doc[key] || {};
    if (of.state === 'fallback') {
      const fb = of.fallback || {};
      w.push([`${kind}-fallback`, `${name} damaged: ${plural(num(of.bad_lines) || 0, 'bad line', 'bad lines')}, so every responder ignores it ` +
        `and keeps to its last good copy${fb.written ? ` (written ${absTime(fb.written)})` : ''}: ` +
        'the overrides below are that copy\'s; the ignored lines are listed under them.', 'fail']);
    } else if (of.state === 'damaged') {
      w.push([`${kind}-damaged`, `${name} damaged: ${kind === 'overrides' ? 'it has bad lines' : 'a bad header, length, checksum or line'}, so every responder ignores it whole, and there is no good copy: none of its overrides is in force.`, 'fail']);
    }
  }
  // A source whose region-wide overrides the follower refused: on every door alike.
  const refused = ((doc.fleet || {}).sources || []).filter((s) => (s.overrides || {}).state === 'refused');
  if (refused.length) {
    w.push(['region-overrides-refused', `The follower refused the region-wide overrides of ${refused.map((s) => str(s.name)).join(', ')} ` +
      `(${str((refused[0].overrides || {}).why)}): damaged, truncated or edited; what it last verified from ${refused.length === 1 ? 'it' : 'them'} stays in force.`, 'fail']);
  }
  if (!w.some(([k]) => k.endsWith('-damaged') || k.endsWith('-fallback')) && ov.length) {    const region = ov.filter((o) => o.scope === 'region').length;
    const wide = ov.filter((o) => o.origin === 'region-wide').length;
    w.push(['overrides', `${plural(ov.length, 'operator override', 'operator overrides')} in force` +
      (region ? `, ${region} on the whole region` : '') + (wide ? `, ${wide} set region-wide` : '') + ': see the table below.', 'warn']);
  }
  return w;
}

function renderWarnings(list) {
  const frag = document.createDocumentFragment();
  for (const [kind, text, level] of list) frag.append(el('li', { 'data-warning': kind, 'data-level': level }, text));
  $('warnings').replaceChildren(frag);
}

function renderCards(doc) {
  const s = doc.snapshot || {};
  const maxAge = num(s.max_age);
  if (num(s.age) !== null) {
    const late = maxAge !== null && s.age > maxAge;
    const slow = num(s.interval) && s.age > 3 * s.interval;
    setText('snapshot-age', `${s.age} s (max ${maxAge === null ? '?' : maxAge} s)`, late || s.blind ? 'fail' : slow ? 'warn' : 'ok');
    setText('snapshot-detail', `created ${absTime(s.created)}` + (num(s.interval) ? `, every ${s.interval} s` : '') + (s.blind ? ', BLIND' : '') + (s.guard ? ', GUARD' : ''));
  } else {
    setText('snapshot-age', `no snapshot (${str(s.state) || 'unknown'})`, 'fail');
    setText('snapshot-detail', [s.detail, s.path].filter(Boolean).map(str).join(': '));
  }
  $('card-snapshot').title = str(s.path);

  const r = doc.registries || {};
  const counts = $('registry-counts');
  const count = (v) => el('span', { 'data-v': num(r[v]) ? v : null }, `${num(r[v]) || 0} ${v}`);
  counts.replaceChildren(count('pass'), ' \u00b7 ', count('warn'), ' \u00b7 ', count('fail'), ' \u00b7 ',
    el('span', { title: 'single-region registries are never failed over' }, `${num(r.single_region) || 0} single-region`));
  $('card-registries').dataset.level = r.fail ? 'fail' : r.warn ? 'warn' : 'ok';
  setText('registry-total', `of ${num(r.total) || 0} registries`);

  const h = doc.hosts || {};
  const c = doc.counters || {};
  setText('unknown-hosts', `${num(h.unknown) || 0} unknown \u00b7 ${num(h.invalid) || 0} invalid \u00b7 ${num(h.error) || 0} error`,
    num(h.unknown_per_min) || h.error ? 'warn' : 'ok');
  setText('hosts-detail', `${num(h.unknown_per_min) || 0}/min; since ${absTime(c.since)}, ` +
    (c.shared ? 'all responders on this node' : 'this responder process only'));

  setText('mode', str(doc.mode) || '?', doc.mode === 'enforce' ? 'ok' : 'warn');
  setText('config', `${str(doc.config)}${doc.config_loaded === false ? ' (NOT LOADED)' : ''}`);
  const ks = doc.kill_switch || {};
  setText('kill-switch', ks.present ? 'PRESENT' : 'absent', ks.present ? 'warn' : 'ok');
  setText('kill-switch-path', str(ks.path));
}

function renderTables(doc) {
  const np = doc.not_passing || {};
  const items = Array.isArray(np.items) ? np.items : [];
  const q = str(np.query);
  fill('registries', items.map((r) => el('tr', { 'data-name': str(r.name), 'data-verdict': str(r.verdict),
    'data-override': str(r.override) },
    el('td', { class: 'name' }, str(r.name),
      r.single_region ? ' ' : null,
      r.single_region ? el('span', { class: 'tag', title: 'single-region: never failed over, answers 200' }, 'single region') : null),
    el('td', null, pill(r.verdict),
      r.override ? ' ' : null,
      r.override ? el('span', { class: 'tag', title: 'an operator override decides this registry\'s answer' },
        `override: ${str(r.override)}`) : null),
    el('td', { class: 'name' }, r.decided_by === null || r.decided_by === undefined ? '\u2014' : str(r.decided_by)),
    timeCell(r.since),
    el('td', { class: 'cause' }, str(r.cause)))),
  q ? `none: no registry matching \u201c${q}\u201d is failing or degraded` : 'none: every registry passes');
  const matched = num(np.matched) === null ? items.length : np.matched;
  setText('registries-shown', `showing ${items.length} of ${matched}` + (q ? ` matching \u201c${q}\u201d` : ''));

  const deps = Array.isArray(doc.dependencies) ? doc.dependencies : [];
  fill('dependencies', deps.map((d) => el('tr', { 'data-name': str(d.name), 'data-state': str(d.state) },
    el('td', { class: 'name' }, str(d.name), d.witness ? ' ' : null,
      d.witness ? el('span', { class: 'tag', title: 'a witness: when every witness fails the prober is blind' }, 'witness') : null),
    el('td', null, pill(d.state)),
    el('td', null, str(d.kind)),
    el('td', null, str(d.severity)),
    el('td', { class: 'num' }, `${num(d.registries_failed) || 0} / ${num(d.registries_degraded) || 0}`),
    timeCell(d.since),
    el('td', { class: 'cause' }, str(d.cause)))),
  'none: every dependency passes');
  setText('dependencies-shown', `${deps.length} of ${num(doc.dependencies_total) === null ? '?' : doc.dependencies_total} not passing`);

  const ov = Array.isArray(doc.overrides) ? doc.overrides : [];
  const actionKind = (a) => (a === 'force-pass' ? 'pass' : a === 'force-fail' ? 'fail' : 'warn');
  fill('overrides', ov.map((o) => el('tr', { 'data-name': str(o.scope) },
    el('td', { class: 'name' }, str(o.scope)),
    el('td', null, pill(o.action, actionKind(o.action))),
    el('td', { class: 'time', title: `until ${absTime(o.until)}` },
      num(o.expires_in) === null ? ago(o.until, refTime()) : o.expires_in > 0 ? `in ${duration(o.expires_in)}` : 'expired'),
    el('td', { title: `set ${absTime(o.set)}` }, str(o.by)),
    el('td', { 'data-origin': str(o.origin || 'node'),
      title: `${o.origin === 'region-wide' ? str((doc.region_overrides_file || {}).path) : str((doc.overrides_file || {}).path)}:${num(o.line) === null ? '?' : o.line}` },
      o.origin === 'region-wide' ? `region-wide${o.from ? ` (from ${str(o.from)})` : ''}` : 'this node'),
    el('td', { class: 'cause' }, str(o.reason)))),
  'none');
  const of = doc.overrides_file || {};
  const fallback = of.state === 'fallback';
  const damaged = of.state === 'damaged';
  setText('overrides-shown', fallback ? `file damaged: its last good copy in force, ${plural(ov.length, 'override', 'overrides')}`
    : damaged ? 'file damaged: ignored whole' : plural(ov.length, 'in force', 'in force'));
  $('overrides-section').classList.toggle('ignored', damaged);
  // The lines of a damaged file that every responder ignores, as file:line: message.
  const bad = Array.isArray(of.ignored) ? of.ignored : [];
  $('overrides-ignored-box').hidden = bad.length === 0;
  fill('overrides-ignored', bad.map((b) => el('tr', { 'data-name': `${num(b.line) === null ? '?' : b.line}` },
    el('td', { class: 'num' }, `${str(of.path)}:${num(b.line) === null ? '?' : b.line}`),
    el('td', { class: 'cause' }, str(b.text)),
    el('td', { class: 'cause' }, str(b.error)))),
  'none');

  const tr = Array.isArray(doc.transitions) ? doc.transitions : [];
  fill('transitions', tr.map((t) => el('tr', { 'data-name': str(t.subject), 'data-event': str(t.event) },
    timeCell(t.time),
    el('td', null, str(t.event)),
    el('td', { class: 'name' }, str(t.subject)),
    el('td', null, t.from === null || t.from === undefined ? null : pill(t.from),
      t.from === null || t.from === undefined ? null : ' \u2192 ', pill(t.to)),
    el('td', { class: 'cause' }, str(t.cause)))),
  'none');
}

function renderDoc(doc) {
  $('region').textContent = str(doc.region) || '?';
  $('node').textContent = str(doc.node);
  const badge = $('mode-badge');
  badge.textContent = str(doc.mode);
  badge.dataset.mode = str(doc.mode);
  $('generated').textContent = `generated ${absTime(doc.generated)}`;
  const [state, headline, detail] = bannerFor(doc);
  document.title = `${state === 'ok' ? '' : '\u26a0 '}${str(doc.region)} / ${str(doc.node)}: deephealth`;
  renderCards(doc);
  renderTables(doc);
  st.lastHeadline = headline;
  setBanner(state, headline, detail);
  renderWarnings(warningsFor(doc));
  document.body.classList.remove('stale');
}

function renderFailure() {
  const since = new Date(st.failSince).toISOString().slice(11, 19);
  setBanner('unreachable', `status.json unreachable since ${since} UTC (${st.failWhy})`,
    st.doc ? 'Showing the last data received, greyed out. Retrying every 5 s.' : 'No data received yet. Retrying every 5 s.');
  const w = st.doc ? warningsFor(st.doc) : [];
  if (st.doc) w.unshift(['last-known', `Last known (${absTime(st.doc.generated)}): ${st.lastHeadline}`, 'warn']);
  renderWarnings(w);
  document.body.classList.add('stale');
  document.title = '\u26a0 status.json unreachable: deephealth';
  tick();
}

function tick() {
  const u = $('updated');
  let text = 'never updated';
  if (st.okAt) text = `updated ${Math.max(0, Math.round((Date.now() - st.okAt) / 1000))} s ago`;
  if (st.failSince) text += ', last attempt failed';
  if (u.textContent !== text) u.textContent = text;
  u.dataset.level = st.failSince ? 'fail' : 'ok';
}

function url() {
  return 'status.json?' + (st.query ? `q=${encodeURIComponent(st.query)}&` : '') + `limit=${LIMIT}`;
}

function schedule(ms) {
  clearTimeout(st.timer);
  st.timer = setTimeout(refresh, ms);
}

// One fetch; the next is scheduled when it ends.  A newer fetch (a new search) aborts an
// older one, whose outcome is then dropped.
async function refresh() {
  clearTimeout(st.timer);
  st.timer = 0;
  if (document.hidden) {
    st.paused = true;
    return;
  }
  st.paused = false;
  if (st.inflight) st.inflight.abort();
  const ctl = new AbortController();
  st.inflight = ctl;
  let timedOut = false;
  const killer = setTimeout(() => { timedOut = true; ctl.abort(); }, TIMEOUT_MS);
  try {
    const r = await fetch(url(), { cache: 'no-store', signal: ctl.signal, headers: { Accept: 'application/json' } });
    if (!r.ok) throw new Error(`HTTP ${r.status}${r.statusText ? ' ' + r.statusText : ''}`);
    let doc;
    try {
      doc = await r.json();
    } catch (e) {
      throw new Error(timedOut ? 'timed out' : 'not JSON');
    }
    if (!doc || typeof doc !== 'object' || doc.version !== 1) {
      throw new Error(`unsupported document version ${doc && typeof doc === 'object' ? str(doc.version) : '?'}`);
    }
    if (st.inflight !== ctl) return;
    const prev = st.doc;
    st.doc = doc;
    try {
      renderDoc(doc);
    } catch (e) {
      st.doc = prev; // keep showing what did render
      throw new Error(`cannot show the document: ${e.message}`);
    }
    st.okAt = Date.now();
    st.failSince = 0;
    tick();
  } catch (e) {
    if (st.inflight !== ctl) return;
    st.failSince = st.failSince || Date.now();
    st.failWhy = timedOut ? `no answer within ${TIMEOUT_MS / 1000} s` : e && e.message ? e.message : 'fetch failed';
    renderFailure();
  } finally {
    clearTimeout(killer);
    if (st.inflight === ctl) {
      st.inflight = null;
      schedule(REFRESH_MS);
    }
  }
}

function start() {
  let debounce = 0;
  const search = $('search');
  search.addEventListener('input', () => {
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      const q = search.value.trim();
      if (q === st.query) return;
      st.query = q;
      refresh();
    }, DEBOUNCE_MS);
  });
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && st.paused) refresh();
  });
  setInterval(tick, 1000);
  refresh();
}

start();
