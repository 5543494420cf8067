// Screen 6, settings: what this phone knows (partner, device, key list, outbox, engines), and the
// buttons to refresh keys, sync now, switch perk, or unenrol.

import { describeAge } from '../keys.js';
import { getVerifier } from '../platform.js';
import { currentPerk, saveSession } from '../session.js';
import { syncNow } from '../sync.js';
import { $ } from '../ui.js';
import { showPerkChoice } from './perk.js';
import { stopCamera } from './scan.js';

export async function renderSettings(app) {
  const s = app.session;
  const { engine } = await getVerifier();
  const perk = currentPerk(s);
  const pending = app.queue ? await app.queue.countPending() : 0;
  // In the cashier's words; what only a technician needs sits behind the "诊断信息" fold.
  fill($('facts-main'), [
    ['商户', s.partner.name],
    ['本机', s.device ? s.device.name : '收银员账号登录'],
    ['当前优惠', perk ? perk.title : '未选择'],
    ['验码密钥', app.keys.entry
      ? `${describeAge(app.keys.ageMs())}更新${app.keys.isUsable() ? '' : '（已过期，请联网更新后再扫码）'}` : '尚未下载，请联网'],
    ['离线记录', pending ? `${pending} 条待上传（联网后自动上传）` : '全部已上传'],
    ['网络', app.online ? '在线' : '离线'],
  ]);
  fill($('facts-diagnostics'), [
    ['登录方式', s.kind === 'device' ? '设备绑定' : `员工令牌（${s.kind}）`],
    ['签发机构', app.keys.trust ? [...app.keys.trust.issuers.values()].map((i) => i.name).join('、') : '—'],
    ['验签', engine],
    ['识码', app.camera && app.camera.detectorKind ? app.camera.detectorKind
      : (typeof BarcodeDetector === 'function' ? '系统识别' : 'zxing-wasm')],
  ]);
}

function fill(dl, facts) {
  dl.textContent = '';
  for (const [k, v] of facts) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    dl.append(dt, dd);
  }
}

async function unenrol(app) {
  const pending = app.queue ? await app.queue.countPending() : 0;
  const warn = pending ? `还有 ${pending} 条离线记录未同步，解除绑定后将无法上传。` : '';
  if (!window.confirm(`${warn}确定解除本设备的绑定吗？`)) return;
  saveSession(app, null);
  stopCamera(app);
  app.show('enrol');
}

export function wireSettings(app) {
  $('refresh-keys').addEventListener('click', async () => { await app.refreshKeys(true); renderSettings(app); });
  $('sync-now').addEventListener('click', async () => { await syncNow(app, true); renderSettings(app); });
  $('change-perk').addEventListener('click', () => showPerkChoice(app));
  $('unenrol').addEventListener('click', () => unenrol(app));
}
