// Screen 4, the verdict: refused (and why), or accepted with the amount to enter, the confirmation,
// and the outcome the server (or the outbox, when offline) gives.

import { shanghaiDay, shanghaiTime } from '../ids.js';
import { explain, KIND_LABELS } from '../messages.js';
import { price, parseYuan, formatFen, permilleLabel } from '../money.js';
import { groupDigits, HOLDER_KINDS, quotaFor, quotaLine, repeatWarning } from '../perks.js';
import { sendRedemption } from '../sync.js';
import { recordRedemption } from '../timing.js';
import { $, esc } from '../ui.js';

function setCard(kind, icon, title, sub) {
  $('verdict-card').className = `verdict-card ${kind}`;
  $('verdict-icon').textContent = icon;
  $('verdict-title').textContent = title;
  $('verdict-sub').textContent = sub;
  document.body.dataset.verdict = kind;
}

function setQuota(text) {
  $('verdict-quota').textContent = text;
  $('verdict-quota').hidden = !text;
}

function setWarning(text) {
  $('verdict-warn').textContent = text;
  $('verdict-warn').hidden = !text;
}

export function showRefusal(app, code, reason, message = '') {
  const e = explain(code, reason, message);
  setCard('no', '✕', e.title, e.hint);
  $('verdict-card').dataset.code = code;
  $('verdict-perk').textContent = '';
  setQuota('');
  setWarning('');
  $('amount-form').hidden = true;
  $('confirm').hidden = true;
  $('verdict-note').textContent = '';
  $('next').textContent = '继续扫码';
  app.show('verdict');
  $('next').focus();
}

export function showAccepted(app) {
  const { desc, perk, claims } = app.current;
  const sub = `${desc.kindName}${claims.issuer !== localIssuer(app.keys) ? ` · ${desc.issuerName}` : ''} · 可享受优惠`;
  setCard('ok', '✓', desc.tierName, sub);
  $('verdict-card').dataset.code = 'ok';
  showPerkLines(perk);
  const levels = new Map([...app.keys.trust.tierLevels].map(([level, code]) => [code, level]));
  setQuota(quotaLine(quotaFor(perk, claims.tier, (code) => levels.get(code) ?? null), perk.quota_unit));
  askAboutRepeats(app, app.current);
  showAmountAndConfirm(app, perk);
}

/** A typed short code: nothing is known of the holder until the server has judged it. */
export function showShortCode(app) {
  const { perk, shortCode } = app.current;
  setCard('pending', '#', groupDigits(shortCode), '数字码，确认后联网核验');
  $('verdict-card').dataset.code = 'short_code';
  showPerkLines(perk);
  setQuota('');
  setWarning('');
  showAmountAndConfirm(app, perk);
}

function showPerkLines(perk) {
  $('verdict-perk').textContent = perk.kind === 'discount'
    ? `${perk.title}（${permilleLabel(perk.discount_permille)}）` : perk.title;
}

/**
 * Online, ask whether this holder was served here in the last minutes (the server counts by the
 * holder, and answers a number only). Offline, or if the answer is late, the verdict stands alone.
 */
async function askAboutRepeats(app, current) {
  setWarning('');
  if (!app.online) return;
  try {
    const res = await app.api('POST', '/redemptions/check', { token: current.text }, { timeoutMs: 3000 });
    if (app.current === current && res.status === 200 && res.body) {
      setWarning(repeatWarning(res.body.recent_visits, res.body.recent_minutes));
    }
  } catch { /* offline: no warning to give */ }
}

function showAmountAndConfirm(app, perk) {
  const isDiscount = perk.kind === 'discount';
  $('amount-form').hidden = !isDiscount;
  $('amount').value = '';
  $('payable').innerHTML = '<span class="detail">输入金额后显示应收金额</span>';
  $('verdict-note').textContent = '';
  const confirm = $('confirm');
  confirm.hidden = false;
  confirm.disabled = isDiscount;
  confirm.textContent = isDiscount ? '确认核销' : `确认${KIND_LABELS[perk.kind] || '核销'}`;
  $('next').textContent = '取消';
  app.show('verdict');
  if (isDiscount) $('amount').focus();
}

/** The issuer marked local by the key list, else the first one: only partner cities are named. */
function localIssuer(keys) {
  const json = keys.entry && keys.entry.json;
  const local = json && (json.issuers.find((i) => i.local) || json.issuers[0]);
  return local ? Number(local.issuer) : null;
}

function updatePayable(app) {
  const perk = app.current && app.current.perk;
  if (!perk || perk.kind !== 'discount') return;
  const fen = parseYuan($('amount').value);
  $('confirm').disabled = fen === null;
  if (fen === null) {
    $('payable').innerHTML = $('amount').value.trim()
      ? '<span class="detail">金额格式不对（最多两位小数）</span>' : '<span class="detail">输入金额后显示应收金额</span>';
    return;
  }
  const p = price(fen, perk.discount_permille, perk.max_discount_fen ?? null);
  $('payable').innerHTML = `<div>应收 <span class="big-money">${formatFen(p.payable_fen)}</span></div>`
    + `<div class="detail">原价 ${formatFen(fen)} · 优惠 ${formatFen(p.discount_fen)}（以服务器结果为准）</div>`;
}

async function confirmRedemption(app) {
  const cur = app.current;
  if (!cur || cur.confirmed) return;
  const perk = cur.perk;
  let amountFen = null;
  let preview = null;
  if (perk.kind === 'discount') {
    amountFen = parseYuan($('amount').value);
    if (amountFen === null) return;
    preview = price(amountFen, perk.discount_permille, perk.max_discount_fen ?? null);
  }
  if (cur.shortCode && !app.online) {
    showRefusal(app, 'short_code_offline', null);
    return;
  }
  cur.confirmed = true;
  app.lastSettled = cur.text;
  const confirmTs = performance.now();
  $('confirm').disabled = true;
  $('amount').disabled = true;
  const record = {
    client_id: cur.client_id, token: cur.text, perk_id: perk.id, perk_title: perk.title, perk_kind: perk.kind,
    amount_fen: amountFen, preview, scanned_at: cur.scanned_at, day: shanghaiDay(Date.parse(cur.scanned_at)),
    pass_id: cur.claims ? cur.claims.pass_id : null, tier_name: cur.desc ? cur.desc.tierName : '数字码',
    ...(cur.shortCode ? { short_code: cur.shortCode } : {}),
  };
  if (!app.queue) {
    // No IndexedDB (a private window): nothing can be kept, so say so rather than pretend.
    showRefusal(app, 'storage_unavailable', null);
    return;
  }
  // Into the outbox first: from here on the redemption survives a closed tab or a dead network.
  await app.queue.add(record);
  setCard('pending', '…', '正在提交', record.tier_name);
  const result = await app.queue.sendOne(record, (r) => sendRedemption(app, r));
  recordRedemption(cur.client_id, confirmTs, result.state);
  $('amount').disabled = false;
  app.renderPending();
  if (app.current !== cur) return; // the cashier moved on; the list will show the outcome
  showResult(result, cur.perk);
}

const moneyLines = (r) => (r && r.amount_fen
  ? `<div class="result-money">应收 <strong>${formatFen(r.payable_fen)}</strong></div>`
    + `<div class="detail">原价 ${formatFen(r.amount_fen)} · 优惠 ${formatFen(r.discount_fen)}</div>` : '');

function showResult(record, perk) {
  $('confirm').hidden = true;
  $('amount-form').hidden = true;
  $('next').textContent = '继续扫码';
  const note = $('verdict-note');
  if (record.state === 'synced') {
    const s = record.server;
    const kind = HOLDER_KINDS[s.holder_kind] || '';
    setCard('ok', '✓', '核销成功', [s.tier_name || record.tier_name, kind].filter(Boolean).join(' · '));
    $('verdict-card').dataset.code = 'recorded';
    if (s.quota !== null && s.quota !== undefined) setQuota(quotaLine(s.quota, perk && perk.quota_unit));
    if (s.recent_visits) setWarning(repeatWarning(s.recent_visits, s.recent_minutes));
    note.innerHTML = `${moneyLines(s)}<div class="detail">已记录 ${esc(shanghaiTime(s.recorded_at || new Date().toISOString()))}</div>`;
  } else if (record.state === 'refused') {
    const e = explain(record.problem.code, null, record.problem.message);
    setCard('no', '✕', e.title, e.hint);
    $('verdict-card').dataset.code = record.problem.code;
    note.textContent = '';
  } else {
    // Kept in the outbox: no network, or a server that could not answer for good (busy, 5xx, 401).
    if (record.last_error === 'network') setCard('queued', '⇅', '已离线保存', '联网后自动同步');
    else setCard('queued', '⇅', '已保存，稍后自动重试', explain(record.last_error).title);
    $('verdict-card').dataset.code = 'queued';
    const p = record.preview ? { amount_fen: record.amount_fen, ...record.preview } : null;
    note.innerHTML = `${moneyLines(p)}<div class="detail">${esc(record.tier_name)} · ${esc(record.perk_title)}`
      + `${p ? '（金额为本机计算）' : ''}</div>`;
  }
  $('next').focus();
}

export function wireVerdict(app) {
  $('amount').addEventListener('input', () => updatePayable(app));
  $('amount-form').addEventListener('submit', (e) => {
    e.preventDefault();
    if (!$('confirm').disabled) confirmRedemption(app);
  });
  $('confirm').addEventListener('click', () => confirmRedemption(app));
}
