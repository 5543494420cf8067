// The scanner's screens: enrol, choose the perk, scan, verdict (amount, confirm, result), today's
// list, settings. Rules live in the pure modules (verify, money, queue); this file wires them
// to the page and to the network.

import { verifyPass, describeClaims, PassRejected } from './verify.js';
import { price, parseYuan, formatFen, permilleLabel } from './money.js';
import { Queue } from './queue.js';
import { KeyCache, describeAge, REFRESH_EVERY_MS } from './keys.js';
import { request, NetworkError } from './api.js';
import { getVerifier, getDetector } from './platform.js';
import { CameraScanner } from './camera.js';
import { explain, KIND_LABELS } from './messages.js';
import { uuid4, shanghaiDay, shanghaiTime } from './ids.js';

const $ = (id) => document.getElementById(id);
/** For the few places that build HTML: partner and perk names are data, never markup. */
const esc = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const SESSION_KEY = 'xym.scanner.session';
const SYNC_EVERY_MS = 15000;
const VOID_WINDOW_MS = 15 * 60 * 1000;

// Measured by the end-to-end test and by anyone curious: performance.now() marks.
const timings = { scans: [], redemptions: [] };
window.__scannerTimings = timings;

const state = {
  session: loadSession(), // {token, kind, device, partner, perk_id}
  keys: new KeyCache(),
  queue: null,
  camera: null,
  current: null, // the pass on the verdict screen
  lastSettled: null, // the last text redeemed or refused, so the camera does not repeat it
  tab: 'scan',
  online: navigator.onLine !== false,
};

// -- session -----------------------------------------------------------------------------------

function loadSession() {
  try { return JSON.parse(localStorage.getItem(SESSION_KEY) || 'null'); } catch { return null; }
}

function saveSession(session) {
  state.session = session;
  if (session) localStorage.setItem(SESSION_KEY, JSON.stringify(session));
  else localStorage.removeItem(SESSION_KEY);
}

function currentPerk() {
  const s = state.session;
  return s && s.partner && (s.partner.perks || []).find((p) => p.id === s.perk_id) || null;
}

async function api(method, path, body, opts = {}) {
  try {
    const res = await request(method, path, { token: state.session && state.session.token, body, ...opts });
    setOnline(true);
    return res;
  } catch (err) {
    if (err instanceof NetworkError) setOnline(false);
    throw err;
  }
}

// -- screens -----------------------------------------------------------------------------------

const SCREENS = ['enrol', 'perk', 'scan', 'verdict', 'today', 'settings'];

function show(name) {
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== name;
  const enrolled = Boolean(state.session);
  $('topbar').hidden = !enrolled || name === 'enrol';
  $('tabs').hidden = !enrolled || name === 'enrol' || name === 'perk';
  const tab = name === 'verdict' ? 'scan' : name;
  for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('active', b.dataset.tab === tab);
  document.body.dataset.screen = name;
  if (name !== 'scan' && name !== 'verdict') stopCamera();
  if (name !== 'enrol') stopEnrolCamera();
  window.scrollTo(0, 0);
}

function toast(text, ms = 2500) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { el.hidden = true; }, ms);
}

function renderTopbar() {
  const s = state.session;
  if (!s) return;
  const perk = currentPerk();
  $('partner-name').textContent = s.partner ? s.partner.name : '';
  $('perk-name').textContent = perk ? perk.title : '未选择优惠';
  const net = $('chip-net');
  net.textContent = state.online ? '在线' : '离线';
  net.classList.toggle('offline', !state.online);
  const keys = $('chip-keys');
  keys.textContent = state.keys.isUsable() ? `公钥 ${describeAge(state.keys.ageMs())}` : '公钥过期';
  keys.classList.toggle('stale', !state.keys.isUsable());
}

async function renderPending() {
  if (!state.queue) return;
  const n = await state.queue.countPending();
  const chip = $('chip-pending');
  chip.hidden = n === 0;
  chip.textContent = `待同步 ${n}`;
}

function setOnline(online) {
  if (state.online === online) return;
  state.online = online;
  renderTopbar();
}

// -- enrolment ---------------------------------------------------------------------------------

let enrolCamera = null;

async function enrol(event) {
  event.preventDefault();
  const code = $('enrol-code').value.trim();
  const name = $('enrol-name').value.trim() || '收银台';
  $('enrol-error').textContent = '';
  if (!code) return;
  $('enrol-submit').disabled = true;
  try {
    const res = await request('POST', '/devices/enrol', { body: { code, name } });
    if (res.status === 201 || res.status === 200) {
      const b = res.body;
      saveSession({ token: b.device_token, kind: 'device', device: b.device, partner: b.partner, perk_id: null });
      afterSignIn();
    } else {
      const e = explain(res.body && res.body.code, null, res.body && res.body.message);
      $('enrol-error').textContent = `${e.title}。${e.hint}`;
    }
  } catch {
    $('enrol-error').textContent = '网络不可用，绑定需要联网。';
  } finally {
    $('enrol-submit').disabled = false;
  }
}

async function signInWithToken(event) {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  $('enrol-error').textContent = '';
  try {
    const res = await request('GET', '/merchant/me', { token });
    if (res.status === 200 && res.body && res.body.partner) {
      saveSession({ token, kind: 'staff', device: res.body.device || null, partner: res.body.partner, perk_id: null });
      afterSignIn();
    } else {
      $('enrol-error').textContent = '令牌无效或已过期。';
    }
  } catch {
    $('enrol-error').textContent = '网络不可用，登录需要联网。';
  }
}

/** The code from a scanned or opened enrolment QR: the bare code, or a link carrying `enrol=`. */
function enrolmentCodeFrom(text) {
  const m = /[?#&]enrol(?:ment)?(?:_code)?=([^&#]+)/i.exec(text || '');
  return (m ? decodeURIComponent(m[1]) : text || '').trim();
}

async function startEnrolCamera() {
  if (!CameraScanner.available()) { $('enrol-error').textContent = '此浏览器无法打开摄像头，请手动输入绑定码。'; return; }
  $('enrol-camera').hidden = false;
  enrolCamera = new CameraScanner($('enrol-video'), {
    getDetector,
    onResult: (text) => {
      stopEnrolCamera();
      $('enrol-code').value = enrolmentCodeFrom(text);
      $('enrol-form').requestSubmit ? $('enrol-form').requestSubmit() : $('enrol-submit').click();
    },
  });
  try { await enrolCamera.start(); } catch {
    stopEnrolCamera();
    $('enrol-error').textContent = '无法打开摄像头，请手动输入绑定码。';
  }
}

function stopEnrolCamera() {
  if (enrolCamera) enrolCamera.stop();
  enrolCamera = null;
  $('enrol-camera').hidden = true;
}

function afterSignIn() {
  state.keys.refresh().catch(() => {}).finally(renderTopbar);
  goHome();
}

/** Refresh what the server says about our partner and perks (they are data, and change). */
async function refreshMe() {
  if (!state.session) return;
  try {
    const res = await api('GET', '/merchant/me');
    if (res.status === 200 && res.body && res.body.partner) {
      saveSession({ ...state.session, partner: res.body.partner, device: res.body.device || state.session.device });
      if (state.session.perk_id && !currentPerk()) {
        saveSession({ ...state.session, perk_id: null });
        goHome();
      }
      renderTopbar();
    } else if (res.status === 401) {
      toast('设备授权失效，请在“设置”中重新绑定', 5000);
    }
  } catch { /* offline: the saved copy will do */ }
}

// -- perk choice -------------------------------------------------------------------------------

function showPerkChoice() {
  const partner = state.session.partner;
  $('perk-partner').textContent = partner.name;
  const list = $('perk-list');
  list.textContent = '';
  const perks = partner.perks || [];
  if (perks.length === 0) {
    list.innerHTML = '<p class="empty">本商户暂无可核销的优惠，请联系信用办。</p>';
  }
  for (const perk of perks) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn secondary big';
    b.textContent = perk.title;
    const small = document.createElement('small');
    small.textContent = perk.kind === 'discount'
      ? `${KIND_LABELS.discount} · ${permilleLabel(perk.discount_permille)}`
      : KIND_LABELS[perk.kind] || perk.kind;
    b.append(small);
    b.addEventListener('click', () => {
      saveSession({ ...state.session, perk_id: perk.id });
      renderTopbar();
      goScan();
    });
    list.append(b);
  }
  show('perk');
}

function goHome() {
  if (!state.session) {
    // Opened from the admin's enrolment link (e.g. scanned with WeChat): the code is filled in.
    const code = enrolmentCodeFrom(location.search + location.hash);
    if (code && code !== location.search + location.hash) $('enrol-code').value = code;
    show('enrol');
    return;
  }
  const perks = state.session.partner.perks || [];
  if (!currentPerk() && perks.length === 1) saveSession({ ...state.session, perk_id: perks[0].id });
  renderTopbar();
  if (!currentPerk()) showPerkChoice();
  else goScan();
}

// -- scanning ----------------------------------------------------------------------------------

async function goScan() {
  state.current = null;
  show('scan');
  $('manual-input').value = '';
  if (!checkKeysOrBlock()) return;
  await startCamera();
}

/** Scanning needs a fresh key list: a revoked key must not go on verifying. */
function checkKeysOrBlock() {
  const usable = state.keys.isUsable();
  $('scan-blocker').hidden = usable;
  $('manual-form').hidden = !usable;
  $('viewfinder').hidden = !usable;
  if (!usable) {
    const e = explain(state.keys.entry ? 'key_list_stale' : 'key_list_missing');
    $('blocker-title').textContent = e.title;
    $('blocker-hint').textContent = `${e.hint}（上次更新：${describeAge(state.keys.ageMs())}）`;
    stopCamera();
  }
  return usable;
}

async function startCamera() {
  if (!CameraScanner.available()) {
    $('scan-hint').textContent = '此浏览器无法打开摄像头，请在下方手动输入';
    return;
  }
  if (!state.camera) {
    state.camera = new CameraScanner($('video'), { getDetector, onResult: onCameraResult });
  }
  try {
    $('scan-hint').textContent = '正在打开摄像头…';
    await state.camera.start();
    $('scan-hint').textContent = '请将顾客的信用码放入框内';
    const torch = $('torch');
    torch.hidden = !state.camera.torchSupported();
  } catch (err) {
    $('scan-hint').textContent = err && err.name === 'NotAllowedError'
      ? '没有摄像头权限：请在浏览器设置中允许，或在下方手动输入'
      : '摄像头无法打开，请在下方手动输入';
  }
}

function stopCamera() {
  if (state.camera) state.camera.stop();
  state.camera = null;
  $('torch').setAttribute('aria-pressed', 'false');
}

async function toggleTorch() {
  const b = $('torch');
  const on = b.getAttribute('aria-pressed') !== 'true';
  try {
    await state.camera.setTorch(on);
    b.setAttribute('aria-pressed', String(on));
  } catch { b.hidden = true; }
}

function tierLevelOf(code) {
  for (const [level, c] of state.keys.trust.tierLevels) if (c === code) return level;
  return null;
}

/**
 * The customer often keeps showing the code after the verdict: the same text again from the
 * camera is not a new customer, so it gets a hint, not a second full-screen verdict.
 */
function onCameraResult(text, timing) {
  if (text === state.lastSettled) {
    $('scan-hint').textContent = '这个码刚刚已处理，请扫描下一位顾客';
    setTimeout(() => {
      if (state.camera) state.camera.resume();
      $('scan-hint').textContent = '请将顾客的信用码放入框内';
    }, 1500);
    return;
  }
  handleScan(text, timing);
}

/** A scanned (or typed) text: verify offline, then show the verdict. */
async function handleScan(text, timing = {}) {
  const t = {
    frame_ts: timing.frameTs ?? performance.now(), frame_source: timing.frameSource || 'manual',
    detected_ts: timing.detectedTs ?? performance.now(),
  };
  const scannedAt = new Date().toISOString();
  if (!checkKeysOrBlock()) return;
  const perk = currentPerk();
  const trust = state.keys.trust;
  let claims;
  try {
    const { verify } = await getVerifier();
    claims = await verifyPass(text, { trust, now: Math.floor(Date.now() / 1000), verifyEd25519: verify });
    // What the perk's published rules already tell us offline (the server still has the last word).
    const minLevel = perk.min_tier ? tierLevelOf(perk.min_tier) : null;
    if ((minLevel !== null && claims.tier < minLevel)
        || (perk.holder_kinds && perk.holder_kinds.length && !perk.holder_kinds.includes(claims.kind))) {
      throw new PassRejected('tier_not_eligible', 'tier');
    }
    if (await usedHereBefore(claims.pass_id, perk.id)) throw new PassRejected('pass_already_used', 'local');
  } catch (err) {
    if (!(err instanceof PassRejected)) throw err;
    t.verified_ts = performance.now();
    state.lastSettled = text;
    showRefusal(err.code, err.reason);
    markVerdict(t, false, err.code);
    return;
  }
  t.verified_ts = performance.now();
  state.current = { text, claims, desc: describeClaims(claims, trust), perk, client_id: uuid4(), scanned_at: scannedAt };
  showAccepted();
  markVerdict(t, true, null);
}

async function usedHereBefore(passId, perkId) {
  if (!state.queue) return false;
  const rows = await state.queue.day(shanghaiDay());
  return rows.some((r) => r.pass_id === passId && r.perk_id === perkId && r.state !== 'refused');
}

/** Record when the verdict was painted (the frame after the DOM change). */
function markVerdict(t, ok, code) {
  requestAnimationFrame(() => {
    t.verdict_ts = performance.now();
    timings.scans.push({
      ...t, ok, code, frame_to_verdict_ms: Math.round(t.verdict_ts - t.frame_ts),
      detect_to_verdict_ms: Math.round(t.verdict_ts - t.detected_ts),
    });
  });
}

// -- verdict -----------------------------------------------------------------------------------

function setCard(kind, icon, title, sub) {
  const card = $('verdict-card');
  card.className = `verdict-card ${kind}`;
  $('verdict-icon').textContent = icon;
  $('verdict-title').textContent = title;
  $('verdict-sub').textContent = sub;
  document.body.dataset.verdict = kind;
}

function showRefusal(code, reason, message = '') {
  const e = explain(code, reason, message);
  setCard('no', '✕', e.title, e.hint);
  $('verdict-card').dataset.code = code;
  $('verdict-perk').textContent = '';
  $('amount-form').hidden = true;
  $('confirm').hidden = true;
  $('verdict-note').textContent = '';
  $('next').textContent = '继续扫码';
  show('verdict');
  $('next').focus();
}

function showAccepted() {
  const { desc, perk } = state.current;
  const sub = `${desc.kindName}${state.current.claims.issuer !== localIssuer() ? ` · ${desc.issuerName}` : ''} · 可享受优惠`;
  setCard('ok', '✓', desc.tierName, sub);
  $('verdict-card').dataset.code = 'ok';
  $('verdict-perk').textContent = perk.kind === 'discount'
    ? `${perk.title}（${permilleLabel(perk.discount_permille)}）` : perk.title;
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
  show('verdict');
  if (isDiscount) $('amount').focus();
}

function localIssuer() {
  // The issuer marked local by the key list, else the first one: only partner cities are named.
  const json = state.keys.entry && state.keys.entry.json;
  const local = json && (json.issuers.find((i) => i.local) || json.issuers[0]);
  return local ? Number(local.issuer) : null;
}

function updatePayable() {
  const perk = state.current && state.current.perk;
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

async function confirmRedemption() {
  const cur = state.current;
  if (!cur || cur.confirmed) return;
  const perk = cur.perk;
  let amountFen = null;
  let preview = null;
  if (perk.kind === 'discount') {
    amountFen = parseYuan($('amount').value);
    if (amountFen === null) return;
    preview = price(amountFen, perk.discount_permille, perk.max_discount_fen ?? null);
  }
  cur.confirmed = true;
  state.lastSettled = cur.text;
  const t = { client_id: cur.client_id, confirm_ts: performance.now() };
  $('confirm').disabled = true;
  $('amount').disabled = true;
  const record = {
    client_id: cur.client_id, token: cur.text, perk_id: perk.id, perk_title: perk.title, perk_kind: perk.kind,
    amount_fen: amountFen, preview, scanned_at: cur.scanned_at, day: shanghaiDay(Date.parse(cur.scanned_at)),
    pass_id: cur.claims.pass_id, tier_name: cur.desc.tierName,
  };
  if (!state.queue) {
    // No IndexedDB (a private window): nothing can be kept, so say so rather than pretend.
    showRefusal('storage_unavailable', null);
    return;
  }
  // Into the outbox first: from here on the redemption survives a closed tab or a dead network.
  await state.queue.add(record);
  setCard('pending', '…', '正在提交', cur.desc.tierName);
  const result = await state.queue.sendOne(record, sendRedemption);
  t.recorded_ts = performance.now();
  timings.redemptions.push({ ...t, state: result.state, confirm_to_recorded_ms: Math.round(t.recorded_ts - t.confirm_ts) });
  $('amount').disabled = false;
  renderPending();
  if (state.current !== cur) return; // the cashier moved on; the list will show the outcome
  showResult(result);
}

function showResult(record) {
  $('confirm').hidden = true;
  $('amount-form').hidden = true;
  $('next').textContent = '继续扫码';
  const money = (r) => (r && r.amount_fen
    ? `<div class="result-money">应收 <strong>${formatFen(r.payable_fen)}</strong></div>`
      + `<div class="detail">原价 ${formatFen(r.amount_fen)} · 优惠 ${formatFen(r.discount_fen)}</div>` : '');
  const note = $('verdict-note');
  if (record.state === 'synced') {
    const s = record.server;
    setCard('ok', '✓', '核销成功', s.tier_name || record.tier_name);
    $('verdict-card').dataset.code = 'recorded';
    note.innerHTML = `${money(s)}<div class="detail">已记录 ${esc(shanghaiTime(s.recorded_at || new Date().toISOString()))}</div>`;
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
    note.innerHTML = `${money(p)}<div class="detail">${esc(record.tier_name)} · ${esc(record.perk_title)}`
      + `${p ? '（金额为本机计算）' : ''}</div>`;
  }
  $('next').focus();
}

async function sendRedemption(record) {
  if (!state.session) throw new NetworkError('signed out');
  const body = {
    token: record.token, perk_id: record.perk_id, client_id: record.client_id, scanned_at: record.scanned_at,
    queued: (record.attempts || 0) > 0,
  };
  if (record.amount_fen !== null && record.amount_fen !== undefined) body.amount_fen = record.amount_fen;
  const res = await api('POST', '/redemptions', body, { timeoutMs: 8000 });
  return { status: res.status, body: res.body };
}

let syncRunning = false;
async function syncNow(force = false) {
  if (!state.queue || !state.session || syncRunning) return;
  syncRunning = true;
  try {
    const result = await state.queue.sync(sendRedemption, { force });
    if (result.synced || result.refused) {
      if (result.refused) toast(`${result.refused} 条离线记录被服务器拒绝，请查看今日记录`, 5000);
      else toast(`已同步 ${result.synced} 条离线记录`);
      if (state.tab === 'today') renderToday();
    }
  } finally {
    syncRunning = false;
    renderPending();
  }
}

// -- today -------------------------------------------------------------------------------------

async function renderToday() {
  const day = shanghaiDay();
  const local = state.queue ? await state.queue.day(day) : [];
  let server = null;
  try {
    const res = await api('GET', `/redemptions?day=${day}`);
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
    : state.online ? '暂时取不到服务器记录，仅显示本机记录' : '离线：仅显示本机记录';
  const ul = $('records');
  ul.textContent = '';
  if (list.length === 0) ul.innerHTML = '<li class="empty">今天还没有核销记录</li>';
  for (const row of list) ul.append(renderRow(row));
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

const BADGES = { synced: ['synced', '已同步'], pending: ['pending', '待同步'], refused: ['refused', '被拒绝'], voided: ['voided', '已撤销'] };

function renderRow(row) {
  const li = document.createElement('li');
  const s = row.server;
  const l = row.local;
  const perkTitle = (l && l.perk_title) || perkTitleById(s && s.perk_id);
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
    s && s.holder_alias ? `顾客 ${s.holder_alias}` : '', s && s.offline ? '离线补传' : '',
  ].filter(Boolean).join(' · ');
  if (row.state === 'refused' && l && l.problem) {
    const e = explain(l.problem.code, null, l.problem.message);
    const p = document.createElement('div');
    p.className = 'problem';
    p.textContent = `${e.title}：${e.hint}`;
    li.append(p);
  }
  if (row.state === 'synced' && s && s.id && canVoid(s)) li.append(voidControls(s));
  return li;
}

function perkTitleById(id) {
  const perk = state.session && (state.session.partner.perks || []).find((p) => p.id === id);
  return perk ? perk.title : '';
}

function canVoid(s) {
  const until = s.voidable_until ? Date.parse(s.voidable_until)
    : Date.parse(s.recorded_at || s.scanned_at) + VOID_WINDOW_MS;
  return Date.now() < until;
}

function voidControls(s) {
  const div = document.createElement('div');
  div.className = 'void-row';
  const start = document.createElement('button');
  start.type = 'button';
  start.className = 'btn danger';
  start.textContent = '撤销';
  start.addEventListener('click', () => {
    div.textContent = '';
    for (const reason of ['误扫', '金额输错', '顾客取消']) {
      const b = document.createElement('button');
      b.type = 'button';
      b.className = 'btn danger';
      b.textContent = `撤销：${reason}`;
      b.addEventListener('click', () => voidRedemption(s, reason, div));
      div.append(b);
    }
  });
  div.append(start);
  return div;
}

async function voidRedemption(s, reason, div) {
  for (const b of div.querySelectorAll('button')) b.disabled = true;
  try {
    const res = await api('POST', `/redemptions/${s.id}/void`, { reason });
    if (res.status === 200) {
      toast('已撤销');
    } else {
      const e = explain(res.body && res.body.code, null, res.body && res.body.message);
      toast(`${e.title}：${e.hint}`, 4000);
    }
  } catch {
    toast('撤销需要联网，请稍后再试', 4000);
  }
  renderToday();
}

// -- settings ----------------------------------------------------------------------------------

async function renderSettings() {
  const s = state.session;
  const { engine } = await getVerifier();
  const facts = [
    ['商户', s.partner.name],
    ['设备', s.device ? s.device.name : `收银员令牌（${s.kind}）`],
    ['当前优惠', currentPerk() ? currentPerk().title : '未选择'],
    ['公钥列表', state.keys.entry
      ? `${describeAge(state.keys.ageMs())}更新${state.keys.isUsable() ? '' : '（已过期，不能扫码）'}` : '从未下载'],
    ['签发机构', state.keys.trust ? [...state.keys.trust.issuers.values()].map((i) => i.name).join('、') : '—'],
    ['待同步', `${state.queue ? await state.queue.countPending() : 0} 条`],
    ['验签', engine],
    ['识码', state.camera && state.camera.detectorKind ? state.camera.detectorKind : (typeof BarcodeDetector === 'function' ? '系统识别' : 'zxing-wasm')],
    ['网络', state.online ? '在线' : '离线'],
  ];
  const dl = $('facts');
  dl.textContent = '';
  for (const [k, v] of facts) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  }
}

async function unenrol() {
  const pending = state.queue ? await state.queue.countPending() : 0;
  const warn = pending ? `还有 ${pending} 条离线记录未同步，解除绑定后将无法上传。` : '';
  if (!window.confirm(`${warn}确定解除本设备的绑定吗？`)) return;
  saveSession(null);
  stopCamera();
  show('enrol');
}

// -- wiring ------------------------------------------------------------------------------------

function switchTab(tab) {
  state.tab = tab;
  if (tab === 'scan') goScan();
  else if (tab === 'today') { show('today'); renderToday(); }
  else { show('settings'); renderSettings(); }
}

async function refreshKeys(manual = false) {
  try {
    const ok = await state.keys.refresh();
    if (manual) toast(ok ? '公钥列表已更新' : '更新失败，请稍后再试');
  } catch {
    if (manual) toast('网络不可用，无法更新公钥列表');
  }
  renderTopbar();
  if (document.body.dataset.screen === 'scan' && !$('scan-blocker').hidden && state.keys.isUsable()) goScan();
  else if (document.body.dataset.screen === 'scan') checkKeysOrBlock();
}

function wire() {
  $('enrol-form').addEventListener('submit', enrol);
  $('token-form').addEventListener('submit', signInWithToken);
  $('enrol-scan').addEventListener('click', startEnrolCamera);
  $('enrol-scan-stop').addEventListener('click', stopEnrolCamera);
  $('perk-switch').addEventListener('click', () => { stopCamera(); showPerkChoice(); });
  $('change-perk').addEventListener('click', showPerkChoice);
  $('torch').addEventListener('click', toggleTorch);
  $('manual-form').addEventListener('submit', (e) => {
    e.preventDefault();
    // Trimmed (a pasted text may carry a newline) but not upper-cased: the verifier stays strict.
    const text = $('manual-input').value.trim();
    if (text) { if (state.camera) state.camera.pause(); handleScan(text); }
  });
  $('amount').addEventListener('input', updatePayable);
  $('amount-form').addEventListener('submit', (e) => { e.preventDefault(); if (!$('confirm').disabled) confirmRedemption(); });
  $('confirm').addEventListener('click', confirmRedemption);
  $('next').addEventListener('click', () => {
    state.current = null;
    show('scan');
    if (state.camera && state.camera.running) { $('manual-input').value = ''; state.camera.resume(); } else goScan();
  });
  $('blocker-retry').addEventListener('click', () => refreshKeys(true));
  $('refresh-keys').addEventListener('click', async () => { await refreshKeys(true); renderSettings(); });
  $('sync-now').addEventListener('click', async () => { await syncNow(true); renderSettings(); });
  $('unenrol').addEventListener('click', unenrol);
  for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => switchTab(b.dataset.tab));

  window.addEventListener('online', () => { setOnline(true); syncNow(true); refreshKeys(); });
  window.addEventListener('offline', () => setOnline(false));
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) stopCamera();
    else if (document.body.dataset.screen === 'scan') goScan();
    if (!document.hidden) syncNow();
  });
  setInterval(() => syncNow(), SYNC_EVERY_MS);
  setInterval(() => refreshKeys(), REFRESH_EVERY_MS);
  setInterval(renderTopbar, 30000);
}

async function main() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('./sw.js', { scope: './' }).catch(() => { /* still works online */ });
  }
  wire();
  try {
    state.queue = await Queue.open();
  } catch {
    toast('本机存储不可用：离线记录无法保存，请勿使用无痕模式', 8000);
  }
  getVerifier(); // warm up: key import and the noble fallback load before the first scan
  goHome();
  renderPending();
  await refreshKeys();
  refreshMe();
  syncNow(true);
  if (state.queue) state.queue.prune(shanghaiDay(Date.now() - 7 * 86400000)).catch(() => {});
}

main();
