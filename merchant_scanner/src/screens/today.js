// Screen 5, today's redemptions: the server's list for the whole shop merged with this phone's
// outbox, the day's totals, and the void button while the server says a row may still be voided.

import { shanghaiDay, shanghaiTime } from '../ids.js';
import { explain } from '../messages.js';
import { formatFen } from '../money.js';
import { HOLDER_KINDS } from '../perks.js';
import { perkTitleById } from '../session.js';
import { markVoided } from '../queue.js';
import { $, toast } from '../ui.js';

const BADGES = { synced: ['synced', '已同步'], pending: ['pending', '待同步'], refused: ['refused', '被拒绝'], voided: ['voided', '已撤销'] };
const VOID_REASONS = ['误扫', '金额输错', '顾客取消'];

export async function renderToday(app) {
  const day = shanghaiDay();
  const local = app.queue ? await app.queue.day(day) : [];
  let server = null;
  try {
    const res = await app.api('GET', `/redemptions?day=${day}`);
    if (res.status === 200 && res.body && Array.isArray(res.body.redemptions)) server = res.body;
  } catch { /* offline: this device's own records only */ }
  const rows = new Map();
  for (const r of server ? server.redemptions : []) {
    rows.set(r.client_id || `id-${r.id}`, { server: r, state: r.status === 'voided' ? 'voided' : 'synced' });
  }
  for (const r of local) {
    const known = rows.get(r.client_id);
    if (known) known.local = r;
    else rows.set(r.client_id, { local: r, server: r.server || null, state: r.state });
  }
  const list = [...rows.values()].sort((a, b) => (scanTime(a) < scanTime(b) ? 1 : -1));
  const totals = server ? server.totals : localTotals(list);
  $('totals').innerHTML = `<div><strong>${Number(totals.count) || 0}</strong><span>笔</span></div>`
    + `<div><strong>${formatFen(totals.amount_fen || 0)}</strong><span>消费金额</span></div>`
    + `<div><strong>${formatFen(totals.discount_fen || 0)}</strong><span>优惠金额</span></div>`;
  $('today-source').textContent = server ? '含本店所有设备的记录'
    : app.online ? '暂时取不到服务器记录，仅显示本机记录' : '离线：仅显示本机记录';
  const ul = $('records');
  ul.textContent = '';
  if (list.length === 0) ul.innerHTML = '<li class="empty">今天还没有核销记录</li>';
  for (const row of list) ul.append(renderRow(app, row));
}

function scanTime(row) { return (row.server && row.server.scanned_at) || (row.local && row.local.scanned_at) || ''; }

function localTotals(list) {
  const t = { count: 0, amount_fen: 0, discount_fen: 0 };
  for (const row of list) {
    if (row.state === 'refused' || row.state === 'voided') continue;
    const r = row.server || { amount_fen: row.local.amount_fen, ...(row.local.preview || {}) };
    t.count++;
    t.amount_fen += r.amount_fen || 0;
    t.discount_fen += r.discount_fen || 0;
  }
  return t;
}

function renderRow(app, row) {
  const li = document.createElement('li');
  const s = row.server;
  const l = row.local;
  const perkTitle = (l && l.perk_title) || perkTitleById(app.session, s && s.perk_id);
  const amount = s ? s.amount_fen : l.amount_fen;
  const payable = s ? s.payable_fen : l.preview && l.preview.payable_fen;
  const [cls, label] = BADGES[row.state] || BADGES.pending;
  li.dataset.state = row.state;
  li.innerHTML = '<div class="line1"><span class="what"></span><span class="badge"></span></div><div class="line2"></div>';
  li.querySelector('.what').textContent = `${shanghaiTime(scanTime(row))} ${(s && s.tier_name) || (l && l.tier_name) || ''}`;
  const badge = li.querySelector('.badge');
  badge.className = `badge ${cls}`;
  badge.textContent = label;
  li.querySelector('.line2').textContent = [
    perkTitle, amount ? `原价 ${formatFen(amount)} 应收 ${formatFen(payable)}` : '',
    s && s.holder_kind ? HOLDER_KINDS[s.holder_kind] : '', s && s.holder_alias ? `顾客 ${s.holder_alias}` : '',
    s && s.offline ? '离线补传' : '',
  ].filter(Boolean).join(' · ');
  if (row.state === 'refused' && l && l.problem) {
    const e = explain(l.problem.code, null, l.problem.message);
    const p = document.createElement('div');
    p.className = 'problem';
    p.textContent = `${e.title}：${e.hint}`;
    li.append(p);
  }
  if (row.state === 'synced' && s && s.id && canVoid(s)) li.append(voidControls(app, s));
  return li;
}

/**
 * Only the server knows the void window (VOID_WINDOW_MINUTES): its list says `voidable_until`.
 * A row without it (this phone's copy while the list cannot be fetched) cannot be voided now
 * anyway, since voiding needs the network.
 */
export function canVoid(s, now = Date.now()) {
  return Boolean(s.voidable_until) && now < Date.parse(s.voidable_until);
}

function voidControls(app, s) {
  const div = document.createElement('div');
  div.className = 'void-row';
  const start = document.createElement('button');
  start.type = 'button';
  start.className = 'btn danger';
  start.textContent = '撤销';
  start.addEventListener('click', () => {
    div.textContent = '';
    for (const reason of VOID_REASONS) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn danger';
      b.textContent = `撤销：${reason}`;
      b.addEventListener('click', () => voidRedemption(app, s, reason, div));
      div.append(b);
    }
  });
  div.append(start);
  return div;
}

async function voidRedemption(app, s, reason, div) {
  for (const b of div.querySelectorAll('button')) b.disabled = true;
  try {
    const res = await app.api('POST', `/redemptions/${s.id}/void`, { reason });
    if (res.status === 200) {
      // This phone's copy follows, so the offline list and totals leave it out as the server does.
      const local = app.queue && s.client_id ? await app.queue.get(s.client_id) : null;
      if (local) await app.queue.put(markVoided(local, res.body));
      toast('已撤销');
    } else {
      const e = explain(res.body && res.body.code, null, res.body && res.body.message);
      toast(`${e.title}：${e.hint}`, 4000);
    }
  } catch {
    toast('撤销需要联网，请稍后再试', 4000);
  }
  renderToday(app);
}
