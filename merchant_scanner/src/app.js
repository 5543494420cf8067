// The scanner's start and wiring: the app context every screen receives, navigation between the
// screens (src/screens/), the top bar, the network, and the timers. Rules live in the pure
// modules (verify, money, queue, keys); each screen's DOM work lives in its own module.

import { request, NetworkError } from './api.js';
import { shanghaiDay } from './ids.js';
import { KeyCache, describeAge, REFRESH_EVERY_MS } from './keys.js';
import { getVerifier } from './platform.js';
import { Queue } from './queue.js';
import { windowsLabel } from './perks.js';
import { showEnrol, stopEnrolCamera, wireEnrol } from './screens/enrol.js';
import { showPerkChoice } from './screens/perk.js';
import { checkKeysOrBlock, goScan, stopCamera, wireScan } from './screens/scan.js';
import { renderSettings, wireSettings } from './screens/settings.js';
import { renderToday } from './screens/today.js';
import { wireVerdict } from './screens/verdict.js';
import { currentPerk, loadSession, saveSession } from './session.js';
import { syncNow } from './sync.js';
import { $, showScreen, toast } from './ui.js';

const SYNC_EVERY_MS = 15000;
const KEEP_SETTLED_DAYS = 7;

/**
 * The state of this scanner, handed to every screen: the session, the key list, the outbox, the
 * camera, the pass on the verdict screen, and the few moves a screen may make on the others.
 */
function createApp() {
  const app = {
    session: loadSession(), // {token, kind, device, partner, perk_id}
    keys: new KeyCache(),
    queue: null,
    camera: null,
    current: null, // the pass on the verdict screen
    lastSettled: null, // the last text redeemed or refused, so the camera does not repeat it
    tab: 'scan',
    online: navigator.onLine !== false,
  };
  app.api = (method, path, body, opts) => api(app, method, path, body, opts);
  app.show = (name) => show(app, name);
  app.goScan = () => goScan(app);
  app.signedIn = () => afterSignIn(app);
  app.renderTopbar = () => renderTopbar(app);
  app.renderPending = () => renderPending(app);
  app.refreshKeys = (manual = false) => refreshKeys(app, manual);
  return app;
}

/** The API with this scanner's token; whether an answer came back sets the online chip. */
async function api(app, method, path, body, opts = {}) {
  try {
    const res = await request(method, path, { token: app.session && app.session.token, body, ...opts });
    setOnline(app, true);
    return res;
  } catch (err) {
    if (err instanceof NetworkError) setOnline(app, false);
    throw err;
  }
}

function show(app, name) {
  showScreen(name, { enrolled: Boolean(app.session) });
  if (name !== 'scan' && name !== 'verdict') stopCamera(app);
  if (name !== 'enrol') stopEnrolCamera();
}

function renderTopbar(app) {
  const s = app.session;
  if (!s) return;
  const perk = currentPerk(s);
  $('partner-name').textContent = s.partner ? s.partner.name : '';
  const hours = windowsLabel(perk);
  $('perk-name').textContent = perk ? (hours ? `${perk.title}（${hours}）` : perk.title) : '未选择优惠';
  const net = $('chip-net');
  net.textContent = app.online ? '在线' : '离线';
  net.classList.toggle('offline', !app.online);
  const keys = $('chip-keys');
  keys.textContent = app.keys.isUsable() ? `密钥 ${describeAge(app.keys.ageMs())}` : '密钥过期';
  keys.classList.toggle('stale', !app.keys.isUsable());
}

async function renderPending(app) {
  if (!app.queue) return;
  const n = await app.queue.countPending();
  const chip = $('chip-pending');
  chip.hidden = n === 0;
  chip.textContent = `待同步 ${n}`;
}

function setOnline(app, online) {
  if (app.online === online) return;
  app.online = online;
  renderTopbar(app);
}

function afterSignIn(app) {
  app.keys.refresh().catch(() => {}).finally(() => renderTopbar(app));
  goHome(app);
}

/** Enrolment, else the perk choice (unless there is only one perk), else the camera. */
function goHome(app) {
  if (!app.session) {
    showEnrol(app);
    return;
  }
  const perks = app.session.partner.perks || [];
  if (!currentPerk(app.session) && perks.length === 1) saveSession(app, { ...app.session, perk_id: perks[0].id });
  renderTopbar(app);
  if (!currentPerk(app.session)) showPerkChoice(app);
  else goScan(app);
}

/** Refresh what the server says about our partner and perks (they are data, and change). */
async function refreshMe(app) {
  if (!app.session) return;
  try {
    const res = await app.api('GET', '/merchant/me');
    if (res.status === 200 && res.body && res.body.partner) {
      saveSession(app, { ...app.session, partner: res.body.partner, device: res.body.device || app.session.device });
      if (app.session.perk_id && !currentPerk(app.session)) {
        saveSession(app, { ...app.session, perk_id: null });
        goHome(app);
      }
      renderTopbar(app);
    } else if (res.status === 401) {
      toast('设备授权失效，请在“设置”中重新绑定', 5000);
    }
  } catch { /* offline: the saved copy will do */ }
}

async function refreshKeys(app, manual) {
  try {
    const ok = await app.keys.refresh();
    if (manual) toast(ok ? '公钥列表已更新' : '更新失败，请稍后再试');
  } catch {
    if (manual) toast('网络不可用，无法更新公钥列表');
  }
  renderTopbar(app);
  if (document.body.dataset.screen === 'scan' && !$('scan-blocker').hidden && app.keys.isUsable()) goScan(app);
  else if (document.body.dataset.screen === 'scan') checkKeysOrBlock(app);
}

function switchTab(app, tab) {
  app.tab = tab;
  if (tab === 'scan') goScan(app);
  else if (tab === 'today') { show(app, 'today'); renderToday(app); }
  else { show(app, 'settings'); renderSettings(app); }
}

function wire(app) {
  wireEnrol(app);
  wireScan(app);
  wireVerdict(app);
  wireSettings(app);
  $('perk-switch').addEventListener('click', () => { stopCamera(app); showPerkChoice(app); });
  $('blocker-retry').addEventListener('click', () => refreshKeys(app, true));
  for (const b of document.querySelectorAll('.tabs button')) b.addEventListener('click', () => switchTab(app, b.dataset.tab));

  window.addEventListener('online', () => { setOnline(app, true); syncNow(app, true); refreshKeys(app, false); });
  window.addEventListener('offline', () => setOnline(app, false));
  document.addEventListener('visibilitychange', () => {
    if (document.hidden) stopCamera(app);
    else if (document.body.dataset.screen === 'scan') goScan(app);
    if (!document.hidden) syncNow(app);
  });
  setInterval(() => syncNow(app), SYNC_EVERY_MS);
  setInterval(() => refreshKeys(app, false), REFRESH_EVERY_MS);
  setInterval(() => renderTopbar(app), 30000);
}

async function main() {
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('./sw.js', { scope: './' }).catch(() => { /* still works online */ });
  }
  const app = createApp();
  wire(app);
  try {
    app.queue = await Queue.open();
  } catch {
    toast('本机存储不可用：离线记录无法保存，请勿使用无痕模式', 8000);
  }
  getVerifier(); // warm up: key import and the noble fallback load before the first scan
  goHome(app);
  renderPending(app);
  await refreshKeys(app, false);
  refreshMe(app);
  syncNow(app, true);
  if (app.queue) app.queue.prune(shanghaiDay(Date.now() - KEEP_SETTLED_DAYS * 86400000)).catch(() => {});
}

main();
