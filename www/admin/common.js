// common.js: what the status page (status.js) and the global page (global.js) share: the
// DOM builder (createElement and text nodes only: every string shown is untrusted), the
// value guards, and the one time and duration format.  Loaded before either page's script.
'use strict';

const $ = (id) => document.getElementById(id);

// el(tag, attrs, ...kids): an element; kids are nodes or anything else (as text).
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else e.setAttribute(k, String(v));
  }
  for (const k of kids) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : String(k));
  }
  return e;
}

const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const str = (v) => (v === undefined || v === null ? '' : String(v));
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;
const list = (v) => (Array.isArray(v) ? v : []);

function parseTime(iso) {
  const t = typeof iso === 'string' ? Date.parse(iso) : NaN;
  return Number.isFinite(t) ? t : null;
}

// "2026-11-30 09:58:00 UTC", or the raw text if it is not a time.
function absTime(iso) {
  const t = parseTime(iso);
  if (t === null) return iso ? str(iso) : '\u2014';
  return new Date(t).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

// A duration in seconds, coarsened for reading: "45 s", "58 min", "3 h 12 min", "5 d".
function duration(s) {
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 172800) {
    const m = Math.floor((s % 3600) / 60);
    return `${Math.floor(s / 3600)} h` + (m ? ` ${m} min` : '');
  }
  return `${Math.floor(s / 86400)} d`;
}

// "4 min ago" (or "in 3 min"), measured against ref: the clock of whoever wrote the time
// (a document's "generated"), so that a skewed browser clock cannot make it lie.
function ago(iso, ref) {
  const t = parseTime(iso);
  if (t === null) return iso ? str(iso) : '\u2014';
  const s = ((ref || Date.now()) - t) / 1000;
  return s < -5 ? `in ${duration(-s)}` : `${duration(s)} ago`;
}

// A coloured word: pass / warn / fail / unknown (and anything else, uncoloured).
function pill(word, kind) {
  return el('span', { class: 'pill', 'data-v': kind || word }, str(word) || '\u2014');
}

// fill(tableId, rows, emptyText): replace the table's body in one step.
function fill(id, rows, emptyText) {
  const body = $(id).tBodies[0];
  const frag = document.createDocumentFragment();
  if (rows.length === 0) {
    const cols = $(id).tHead.rows[0].cells.length;
    frag.append(el('tr', { class: 'none' }, el('td', { colspan: cols }, emptyText)));
  }
  for (const r of rows) frag.append(r);
  body.replaceChildren(frag);
}
