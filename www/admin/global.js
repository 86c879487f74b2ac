// global.js: the global page, every region side by side.  Reads regions.json from this
// directory (the regions description this region's responders were given), then every
// region's status.json and events.json from its admin side, and renders: each region's state,
// the registries served away from a region now, and the last routing changes of all of them
// merged by time.  Other regions' documents are read by CORS: their responders allow a
// region's admin origin (docs/global-page.md).  This region's own are read from this origin.
//
// Every string in a document is untrusted (registry names, causes, override reasons): the DOM
// is built with createElement and text nodes only, never innerHTML.  A region whose documents
// do not arrive (unreachable, timed out, refused, not JSON, another region's) is unknown: it is
// never shown as healthy and never counted as serving a registry.
'use strict';

const REFRESH_MS = 10000; // pause between the end of one round of fetches and the next
const TIMEOUT_MS = 4000; // per document: longer counts as no answer
const PROBE_MS = 3000; // the no-cors request that tells "refused to this page" from "unreachable"
const STATUS_LIMIT = 1000; // registries not passing per region (the document's maximum)
const EVENTS_LIMIT = 200; // latest events per region
const CHANGES_SHOWN = 100; // merged routing changes shown
const SKEW_S = 2; // a clock offset shown when larger

const st = {
  desc: null, // the last regions description received
  self: '', // the region serving this page
  views: new Map(), // region name -> its last view (see gather)
  okAt: 0, // browser time of the last round that read regions.json
  timer: 0,
  running: false,
  paused: false,
};

// The base of a region's admin side (no trailing slash), or '' unless it is an http(s) URL.
function adminBase(admin) {
  try {
    const u = new URL(str(admin));
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return '';
  } catch (e) {
    return '';
  }
  return str(admin).replace(/\/+$/, '');
}

function originOf(url) {
  try {
    return new URL(url).origin;
  } catch (e) {
    return '';
  }
}

// ---- Reading the documents ------------------------------------------------------------

// Why a cross-origin request failed without an HTTP answer: a fetch that needs no permission
// (no-cors: its answer is opaque) tells a server that answered but not to this page from one
// that cannot be reached.
async function whyFailed(url) {
  const ctl = new AbortController();
  let timedOut = false;
  const killer = setTimeout(() => { timedOut = true; ctl.abort(); }, PROBE_MS);
  try {
    await fetch(url, { mode: 'no-cors', cache: 'no-store', credentials: 'omit', signal: ctl.signal });
    return `refused to this page: it answered, but not to ${location.origin} (CORS): its responders ` +
      'do not list this origin as a region\'s admin (responder.regions), or its web server\'s ' +
      '/deephealth/ allow-list refused this browser';
  } catch (e) {
    return timedOut ? `unreachable: no answer within ${TIMEOUT_MS / 1000} s` : 'unreachable: no connection';
  } finally {
    clearTimeout(killer);
  }
}

// getDoc(url, cross): {doc, why, offset}: the document (version 1), or why there is none;
// offset: its "generated" minus the browser's clock at the middle of the request, in ms.
async function getDoc(url, cross) {
  const ctl = new AbortController();
  let timedOut = false;
  const killer = setTimeout(() => { timedOut = true; ctl.abort(); }, TIMEOUT_MS);
  const t0 = Date.now();
  let stage = 'fetch';
  try {
    const r = await fetch(url, { mode: cross ? 'cors' : 'same-origin', cache: 'no-store', credentials: 'omit',
      signal: ctl.signal, headers: { Accept: 'application/json' } });
    if (!r.ok) {
      return { doc: null, why: `HTTP ${r.status}${r.statusText ? ' ' + r.statusText : ''}` +
        (r.status === 403 ? ': its web server\'s /deephealth/ allow-list refused this browser' : '') };
    }
    stage = 'body';
    const text = await r.text();
    const t1 = Date.now();
    let doc;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      return { doc: null, why: 'not JSON' };
    }
    if (!doc || typeof doc !== 'object' || doc.version !== 1) {
      return { doc: null, why: `unsupported document version ${doc && typeof doc === 'object' ? str(doc.version) : '?'}` };
    }
    const gen = parseTime(doc.generated);
    return { doc, why: '', offset: gen === null ? null : gen - (t0 + t1) / 2 };
  } catch (e) {
    if (timedOut) return { doc: null, why: `no answer within ${TIMEOUT_MS / 1000} s` };
    if (stage === 'body') return { doc: null, why: 'the answer broke off' };
    return { doc: null, why: cross ? await whyFailed(url) : 'unreachable: no connection' };
  } finally {
    clearTimeout(killer);
  }
}

// One region's documents: this region's from this origin, the others' from their admin side.
async function readRegion(r) {
  const self = r.self === true;
  const base = self ? '.' : adminBase(r.admin);
  if (!base) {
    return { status: { doc: null, why: r.admin ? 'its admin URL is not http(s)' : 'no admin URL in the regions description' },
      events: { doc: null, why: '' } };
  }
  const [status, events] = await Promise.all([
    getDoc(`${base}${self ? '' : '/deephealth'}/status.json?failing=1&limit=${STATUS_LIMIT}`, !self),
    getDoc(`${base}${self ? '' : '/deephealth'}/events.json?limit=${EVENTS_LIMIT}`, !self),
  ]);
  return { status, events };
}

// ---- What the documents say -------------------------------------------------------------

// view(def, got, prev): what the page shows of one region.
//   known: its status document arrived and is this region's;  state: unknown, failing-open,
//   passthrough (kill switch, mode, shadow: every answer 200), enforcing;  failing: the
//   registries it fails over now (name -> item);  kept: failing ones answered 200 anyway
//   (single-region, force-pass);  complete: failing is everything it fails over.
function view(def, got, prev) {
  const v = {
    name: str(def.name), self: def.self === true, admin: str(def.admin), known: false, why: '',
    state: 'unknown', doc: null, ev: null, evWhy: '', offset: null, failing: new Map(), kept: [],
    complete: true, lastOk: prev ? prev.lastOk : 0,
  };
  const s = got.status;
  if (!s.doc) {
    v.why = s.why;
  } else if (str(s.doc.region) !== v.name) {
    v.why = `its admin side answers as region \u201c${str(s.doc.region)}\u201d`;
  } else {
    v.known = true;
    v.doc = s.doc;
    v.offset = num(s.offset);
    v.lastOk = Date.now();
  }
  if (!v.known) return v;
  if (got.events.doc && str(got.events.doc.region) === v.name) v.ev = got.events.doc;
  else v.evWhy = got.events.doc ? `its events.json is region \u201c${str(got.events.doc.region)}\u201d's` : got.events.why;

  const d = v.doc;
  const a = d.answers || {};
  if (a.regionwide && a.reason === 'passthrough') v.state = 'passthrough';
  else if (a.regionwide) v.state = 'failing-open';
  else if (d.mode === 'shadow') v.state = 'passthrough';
  else v.state = 'enforcing';
  const np = d.not_passing || {};
  const items = list(np.items);
  const fo = d.failing_over;
  if (fo && Array.isArray(fo.items)) {
    // What its probes get 503 for (failing verdicts and forced fails alike), with since and
    // cause from not_passing where it lists them; a failing verdict answered 200 is kept.
    const byName = new Map(items.filter((it) => it).map((it) => [str(it.name), it]));
    for (const f of list(fo.items)) {
      if (!f || v.state !== 'enforcing') continue;
      const it = byName.get(str(f.name)) || {};
      const forced = f.reason === 'override-fail';
      v.failing.set(str(f.name), { name: f.name, since: forced ? null : it.since,
        decided_by: forced ? null : f.decided_by, cause: forced ? null : it.cause,
        override: forced ? 'force-fail' : it.override });
    }
    for (const it of items) if (it && it.verdict === 'fail' && !v.failing.has(str(it.name)) && v.state === 'enforcing') v.kept.push(it);
    v.truncated = num(fo.matched) !== null && fo.matched > list(fo.items).length;
  } else {
    // An older admin side: its not_passing list (a forced fail of a passing registry is missed).
    for (const it of items) {
      if (!it || it.verdict !== 'fail') continue;
      if (it.single_region || it.override === 'force-pass') v.kept.push(it);
      else if (v.state === 'enforcing') v.failing.set(str(it.name), it);
    }
    v.truncated = num(np.matched) !== null && np.matched > items.length;
  }
  const over = num(a.failing_over);
  v.complete = v.state !== 'enforcing' || (!v.truncated && (over === null || over === v.failing.size));
  return v;
}

// [state, value, level] of a region's card.
function regionLine(v) {
  if (!v.known) return ['unknown', 'UNKNOWN', 'unknown'];
  const a = v.doc.answers || {};
  const ks = v.doc.kill_switch || {};
  if (v.state === 'failing-open' && a.reason === 'guard') {
    // The prober's failover guard (docs/guard.md): not a fail-open, and a human's to decide.
    const g = v.doc.guard || {};
    return ['failing-open', `FAILOVER GUARD: every registry answers 200 guard (${num(g.failing) || 0} of ${num(g.multi_region) || 0} multi-region registries fail; a human decides)`, 'fail'];
  }
  if (v.state === 'failing-open') return ['failing-open', `FAILING OPEN (${str(a.reason)}): every registry answers ${num(a.http) || 200}`, 'fail'];
  if (v.state === 'passthrough') {
    const why = v.doc.mode === 'shadow' ? 'SHADOW' : ks.present ? 'PASS-THROUGH (kill switch)' : 'PASS-THROUGH';
    return ['passthrough', `${why}: every registry answers 200`, 'warn'];
  }
  const n = num(a.failing_over) === null ? v.failing.size : a.failing_over;
  return ['enforcing', `enforcing: ${plural(n, 'registry', 'registries')} failing over`, 'ok'];
}

function clockText(v) {
  if (v.offset === null) return '';
  const s = Math.round(v.offset / 1000);
  if (Math.abs(s) <= SKEW_S) return '';
  return `clock ${s > 0 ? '+' : '\u2212'}${duration(Math.abs(s))} against this browser`;
}

function renderRegion(v) {
  const [state, value, level] = regionLine(v);
  const facts = [];
  // (The ' ' between blocks changes no layout; it keeps the card's text readable as text.)
  const fact = (k, val, lvl) => facts.push(el('div', { 'data-fact': k, 'data-level': lvl }, el('dt', null, k), ' ', el('dd', null, val)), ' ');
  const base = adminBase(v.admin);
  if (v.known) {
    const d = v.doc;
    const s = d.snapshot || {};
    const a = d.answers || {};
    const ref = parseTime(d.generated);
    if (num(s.age) !== null) {
      const late = num(s.max_age) !== null && s.age > s.max_age;
      fact('snapshot', `${duration(s.age)} old` + (num(s.interval) ? `, every ${s.interval} s` : '') +
        (s.blind ? ', BLIND' : '') + (late ? `, older than max_age ${s.max_age} s` : ''), late || s.blind ? 'fail' : 'ok');
    } else {
      fact('snapshot', `none: ${str(s.state) || 'unknown'}${s.detail ? ` (${str(s.detail)})` : ''}`, 'fail');
    }
    fact('decides', a.regionwide ? `every answer: ${str(a.reason)} (${num(a.http) || 200})` : 'each registry: its verdict, overrides applied',
      a.regionwide ? 'fail' : 'ok');
    const np = d.not_passing || {};
    const names = [...v.failing.keys()];
    fact('failing over', names.length ? names.join(', ') + (v.complete ? '' : ' and more') : 'none',
      names.length || !v.complete ? 'warn' : 'ok');
    if (!v.complete) {
      fact('not listed', v.truncated ? `its list stops at ${v.failing.size} of ${num((d.failing_over || np).matched)}`
        : `${num(a.failing_over)} failing over, ${v.failing.size} listed: overrides decide the rest`, 'warn');
    }
    const prober = latestProber(v);
    fact('source', d.fleet && d.fleet.decided ? `fleet: ${str(d.fleet.decided)}` : `its prober${prober ? ` on ${prober}` : ''}` +
      (s.created ? `, snapshot ${ago(s.created, ref)}` : ''), 'ok');
    const ov = list(d.overrides);
    if (ov.length) fact('overrides', ov.map((o) => `${str(o.scope)} ${str(o.action)}`).join(', '), 'warn');
    const clock = clockText(v);
    if (clock) fact('clock', clock, 'warn');
    if (!v.ev) fact('events', `none read: ${v.evWhy || 'unknown'}`, 'warn');
    else if (v.ev.log && v.ev.log.state !== 'ok') fact('events', `no event log here (${str(v.ev.log.state)}${v.ev.log.detail ? `: ${str(v.ev.log.detail)}` : ''})`, 'warn');
    fact('node', str(d.node), 'ok');
  } else {
    fact('why', v.why, 'fail');
    if (v.lastOk) fact('last read', `${duration((Date.now() - v.lastOk) / 1000)} ago`, 'warn');
  }
  const link = v.self ? './' : base ? `${base}/deephealth/` : '';
  return el('div', { class: 'card region', 'data-region': v.name, 'data-state': state, 'data-level': level },
    el('h2', null, v.name, v.self ? ' ' : null, v.self ? el('span', { class: 'tag' }, 'this page') : null), ' ',
    el('p', { class: 'value' }, value), ' ',
    el('dl', { class: 'facts' }, ...facts),
    link ? el('p', { class: 'sub' }, el('a', { href: link, rel: 'noreferrer' }, 'status page')) : null);
}

// The host of the prober that wrote the region's latest verdict change, if the events say.
function latestProber(v) {
  let who = '';
  for (const e of list(v.ev && v.ev.events)) if (e && (e.event === 'verdict' || e.event === 'verdicts') && e.prober) who = str(e.prober);
  return who;
}

// Why a registry fails in a region: the operator's override, or the deciding dependency's cause.
function whyText(it) {
  if (it.override === 'force-fail') return 'operator override: force-fail';
  const dep = it.decided_by === null || it.decided_by === undefined ? '' : str(it.decided_by);
  const cause = str(it.cause);
  return dep && cause ? `${dep}: ${cause}` : dep || cause || '\u2014';
}

// Where a registry failing over in `failing` (region names) is served: every other region,
// each as serving, open (answers every registry 200), uncertain (fails more than it lists) or
// unknown.
function servedInstead(name, failing, views) {
  const out = [];
  for (const v of views) {
    if (failing.includes(v.name)) continue;
    let kind = 'serving';
    let label = v.name;
    if (!v.known) {
      kind = 'unknown';
      label = `${v.name}: unknown`;
    } else if (v.state !== 'enforcing') {
      kind = 'open';
      label = `${v.name} (answers every registry 200)`;
    } else if (!v.complete) {
      kind = 'uncertain';
      label = `${v.name}?`;
    } else if (v.kept.some((k) => str(k.name) === name && k.override === 'force-pass')) {
      label = `${v.name} (override force-pass)`;
    }
    out.push([kind, label]);
  }
  return out;
}

function renderAway(views) {
  const rows = new Map(); // registry -> [view, item] per region failing it
  for (const v of views) {
    for (const [name, it] of v.failing) {
      if (!rows.has(name)) rows.set(name, []);
      rows.get(name).push([v, it]);
    }
  }
  const names = [...rows.keys()].sort();
  const trs = names.map((name) => {
    const by = rows.get(name);
    const failing = by.map(([v]) => v.name);
    const served = servedInstead(name, failing, views);
    const serving = served.filter(([k]) => k === 'serving' || k === 'open').length;
    const many = by.length > 1;
    const per = (fn) => by.map(([v, it], i) => [i ? ' ' : null, el('div', null, many ? `${v.name}: ` : null, fn(v, it))]).flat();
    return el('tr', { 'data-name': name, 'data-serving': serving },
      el('td', { class: 'name' }, name),
      el('td', null, ...by.map(([v], i) => [i ? ', ' : null, el('span', { class: 'region-name' }, v.name)]).flat()),
      el('td', { class: 'time' }, ...per((v, it) => el('span', { title: `${absTime(it.since)} (${v.name}'s clock)` },
        ago(it.since, parseTime(v.doc.generated))))),
      el('td', { class: 'cause' }, ...per((v, it) => whyText(it))),
      el('td', { 'data-level': serving ? 'ok' : 'fail' }, serving ? null : el('strong', null, 'none known'), serving ? null : ' ',
        ...served.map(([kind, label], i) => [i ? ' \u00b7 ' : null, el('span', { class: 'served', 'data-served': kind }, label)]).flat()));
  });
  fill('away', trs, views.some((v) => !v.known) ? 'none that a known region fails over' : 'none: every region serves every registry');
  const unknown = views.filter((v) => !v.known).length;
  $('away-shown').textContent = `${plural(names.length, 'registry', 'registries')}` +
    (unknown ? `; ${plural(unknown, 'region', 'regions')} unknown, so not counted` : '');
}

function renderKept(views) {
  const trs = [];
  for (const v of views) {
    for (const it of v.kept) {
      trs.push(el('tr', { 'data-name': str(it.name), 'data-region': v.name },
        el('td', { class: 'name' }, str(it.name)),
        el('td', null, v.name),
        el('td', { class: 'time', title: `${absTime(it.since)} (${v.name}'s clock)` }, ago(it.since, parseTime(v.doc.generated))),
        el('td', { class: 'cause' }, whyText(it)),
        el('td', null, it.override === 'force-pass'
          ? el('span', { class: 'tag', title: 'an operator override keeps it in this region' }, 'override: force-pass')
          : el('span', { class: 'tag', title: 'a single-region registry is never failed over' }, 'single region'))));
    }
  }
  fill('kept', trs, 'none');
  $('kept-shown').textContent = plural(trs.length, 'registry', 'registries');
}

// The routing changes of every known region: verdict changes, their counted summaries, blind
// stretches and overrides, merged by time as each region's clock wrote it, newest first.
function renderChanges(views) {
  const all = [];
  const missing = [];
  views.forEach((v, ri) => {
    if (!v.known) {
      missing.push([v.name, `${v.name}: unknown (${v.why}): its changes are missing below`]);
      return;
    }
    if (!v.ev) {
      missing.push([v.name, `${v.name}: events.json not read (${v.evWhy}): its changes are missing below`]);
      return;
    }
    if (v.ev.log && v.ev.log.state !== 'ok') {
      missing.push([v.name, `${v.name}: no event log (${str(v.ev.log.state)}): a front door fed by a follower keeps none; its prober's host has it`]);
    }
    const ref = parseTime(v.ev.generated);
    let blind = false;
    list(v.ev.events).forEach((e, i) => {
      if (!e || typeof e !== 'object') return;
      if (e.event === 'blind') blind = e.state === 'start';
      if (!['verdict', 'verdicts', 'blind', 'override'].includes(e.event)) return;
      const t = parseTime(e.time);
      all.push({ e, v, ref, t: t === null ? -Infinity : t, ri, i, blind: blind && e.event === 'verdict' });
    });
  });
  all.sort((x, y) => y.t - x.t || x.ri - y.ri || y.i - x.i);
  const shown = all.slice(0, CHANGES_SHOWN);
  fill('changes', shown.map(changeRow), 'none in the events read');
  $('changes-shown').textContent = `newest first; ${shown.length} of ${all.length} from ${plural(views.filter((v) => v.ev).length, 'region', 'regions')}`;
  const frag = document.createDocumentFragment();
  for (const [name, text] of missing) frag.append(el('li', { 'data-region': name, 'data-level': 'warn' }, text));
  $('changes-missing').replaceChildren(frag);
}

function changeRow(c) {
  const e = c.e;
  const time = el('td', { class: 'time', title: `${c.v.name}'s clock; ${ago(e.time, c.ref)}` }, absTime(e.time));
  const region = el('td', null, c.v.name);
  if (e.event === 'verdict') {
    const dep = str(e.dependency);
    return el('tr', { 'data-name': str(e.registry), 'data-event': 'verdict', 'data-region': c.v.name },
      time, region, el('td', { class: 'name' }, str(e.registry)),
      el('td', null, pill(e.from), ' \u2192 ', pill(e.to),
        c.blind ? ' ' : null, c.blind ? el('span', { class: 'tag', title: 'written while the prober was blind: every answer failed open' }, 'during blind') : null),
      el('td', { class: 'cause' }, dep && e.cause ? `${dep}: ${str(e.cause)}` : dep || str(e.cause)),
      el('td', { class: 'name' }, str(e.prober)));
  }
  if (e.event === 'verdicts') {
    return el('tr', { 'data-name': '', 'data-event': 'verdicts', 'data-region': c.v.name },
      time, region, el('td', null, 'many registries'),
      el('td', null, `${num(e.changed) || 0} verdicts changed, ${num(e.listed) || 0} listed`),
      el('td', { class: 'cause' }, 'one pass changed more verdicts than the log lists one by one'),
      el('td', { class: 'name' }, str(e.prober)));
  }
  if (e.event === 'blind') {
    return el('tr', { 'data-name': 'region', 'data-event': 'blind', 'data-region': c.v.name, class: 'marker' },
      time, region, el('td', null, 'every registry'),
      el('td', null, el('span', { class: 'tag marker-tag', 'data-v': 'blind' }, `blind ${str(e.state)}`)),
      el('td', { class: 'cause' }, str(e.state) === 'start' ? `answers fail open: ${str(e.cause)}` : str(e.cause)),
      el('td', null, '\u2014'));
  }
  return el('tr', { 'data-name': str(e.scope), 'data-event': 'override', 'data-region': c.v.name, class: 'marker' },
    time, region, el('td', { class: 'name' }, str(e.scope)),
    el('td', null, el('span', { class: 'tag marker-tag', 'data-v': 'override' }, `override ${str(e.change)} ${str(e.action)}`)),
    el('td', { class: 'cause' }, str(e.reason), e.until ? ` (until ${absTime(e.until)})` : null),
    el('td', null, str(e.by)));
}

// ---- The page ----------------------------------------------------------------------------

function setBanner(state, headline, detail) {
  const b = $('banner');
  b.dataset.state = state;
  b.replaceChildren(el('strong', { class: 'headline' }, headline), detail ? ' ' : null, detail ? el('span', { class: 'detail' }, detail) : null);
}

function renderWarnings(w) {
  const frag = document.createDocumentFragment();
  for (const [kind, text, level] of w) frag.append(el('li', { 'data-warning': kind, 'data-level': level }, text));
  $('warnings').replaceChildren(frag);
}

function render(views, regionsWhy) {
  const order = ['failing-open', 'passthrough', 'unknown', 'enforcing'];
  const states = views.map((v) => regionLine(v)[0]);
  const worst = order.find((s) => states.includes(s)) || 'enforcing';
  const bad = views.filter((v) => v.state !== 'enforcing' || !v.known);
  const away = new Set();
  for (const v of views) for (const n of v.failing.keys()) away.add(n);
  const good = views.filter((v) => !bad.includes(v)).map((v) => v.name);
  const headline = bad.map((v) => `${v.name} ${regionLine(v)[1].split(':')[0]}`)
    .concat(good.length ? [`${good.join(', ')} enforcing`] : []).join(' \u00b7 ');
  setBanner({ 'failing-open': 'failing-open', passthrough: 'passthrough', unknown: 'unreachable', enforcing: 'ok' }[worst], headline,
    `${plural(away.size, 'registry', 'registries')} served away from a region now` +
    (bad.some((v) => !v.known) ? '; an unknown region is never counted as serving one.' : '.'));

  const w = [];
  if (regionsWhy) w.push(['regions', regionsWhy, 'fail']);
  const origins = views.map((v) => originOf(adminBase(v.admin))).filter(Boolean);
  if (views.length > 1 && !origins.includes(location.origin)) {
    const self = views.find((v) => v.self && adminBase(v.admin));
    w.push(['origin', `This page is opened at ${location.origin}, which is no region's admin URL: the other regions' responders ` +
      'will refuse it (CORS).' + (self ? ` Open it at ${adminBase(self.admin)}/deephealth/global.html.` : ''), 'warn']);
  }
  for (const v of views) {
    if (v.known && !v.complete) {
      w.push(['incomplete', `${v.name} fails over more registries than it lists: the rows below may miss some, and it is ` +
        'marked \u201c?\u201d where it might serve one.', 'warn']);
    }
  }
  renderWarnings(w);
  const frag = document.createDocumentFragment();
  for (const v of views) frag.append(renderRegion(v));
  $('regions').replaceChildren(frag);
  $('regions-shown').textContent = `${views.filter((v) => v.known).length} of ${views.length} answering`;
  renderAway(views);
  renderKept(views);
  renderChanges(views);
  document.title = `${worst === 'enforcing' ? '' : '\u26a0 '}deephealth: every region`;
}

function tick() {
  const u = $('updated');
  const text = st.okAt ? `updated ${Math.max(0, Math.round((Date.now() - st.okAt) / 1000))} s ago` : 'not loaded yet';
  if (u.textContent !== text) u.textContent = text;
}

// One round: regions.json, then every region's two documents at once; drawn when all are in.
async function refresh() {
  clearTimeout(st.timer);
  st.timer = 0;
  if (document.hidden) {
    st.paused = true;
    return;
  }
  st.paused = false;
  if (st.running) return;
  st.running = true;
  try {
    const got = await getDoc('regions.json', false);
    let why = '';
    const desc = got.doc ? got.doc.description : null;
    if (!got.doc) why = `regions.json: ${got.why}` + (st.desc ? ': showing the regions it last named' : '');
    else if (!desc || typeof desc !== 'object') {
      const f = got.doc.file || {};
      why = f.state === 'none' ? 'No regions description here: this region\'s responders are given none (responder.regions in deephealth.conf).'
        : `The regions description ${str(f.path)} is not loaded (${str(f.state)}${f.detail ? `: ${str(f.detail)}` : ''}).`;
    } else {
      st.desc = desc;
      st.self = str(got.doc.region);
    }
    $('served-by').textContent = st.self ? `from ${st.self}` : '';
    const defs = st.desc ? list(st.desc.regions).filter((r) => r && typeof r === 'object') : [];
    if (!defs.length) {
      setBanner('unreachable', why || 'The regions description lists no region.', 'This region\'s own state is on its status page.');
      renderWarnings([]);
      return;
    }
    const docs = await Promise.all(defs.map(readRegion));
    const views = defs.map((d, i) => view(d, docs[i], st.views.get(str(d.name))));
    st.views = new Map(views.map((v) => [v.name, v]));
    render(views, why);
    if (got.doc) st.okAt = Date.now();
  } catch (e) {
    setBanner('unreachable', `cannot show the regions: ${e && e.message ? e.message : e}`, '');
  } finally {
    st.running = false;
    tick();
    st.timer = setTimeout(refresh, REFRESH_MS);
  }
}

function start() {
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden && st.paused) refresh();
  });
  setInterval(tick, 1000);
  refresh();
}

start();
