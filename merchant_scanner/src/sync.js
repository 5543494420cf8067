// Sending the outbox: one redemption (right after confirm) or every pending one (on a timer, when
// the network returns, from settings). src/queue.js decides what each answer does to an item.

import { NetworkError } from './api.js';
import { renderToday } from './screens/today.js';
import { toast } from './ui.js';

export async function sendRedemption(app, record) {
  if (!app.session) throw new NetworkError('signed out');
  // A typed short code stands for the pass, online only: a resend after a lost answer is a retry of
  // the same scan (same client_id, the server answers it again), never an offline scan.
  const body = record.short_code
    ? { short_code: record.short_code, perk_id: record.perk_id, client_id: record.client_id, scanned_at: record.scanned_at }
    : { token: record.token, perk_id: record.perk_id, client_id: record.client_id, scanned_at: record.scanned_at,
      queued: (record.attempts || 0) > 0 };
  if (record.amount_fen !== null && record.amount_fen !== undefined) body.amount_fen = record.amount_fen;
  const res = await app.api('POST', '/redemptions', body, { timeoutMs: 8000 });
  return { status: res.status, body: res.body };
}

let syncRunning = false;

export async function syncNow(app, force = false) {
  if (!app.queue || !app.session || syncRunning) return;
  syncRunning = true;
  try {
    const result = await app.queue.sync((r) => sendRedemption(app, r), { force });
    if (result.synced || result.refused) {
      if (result.refused) toast(`${result.refused} 条离线记录被服务器拒绝，请查看今日记录`, 5000);
      else toast(`已同步 ${result.synced} 条离线记录`);
      if (app.tab === 'today') renderToday(app);
    }
  } finally {
    syncRunning = false;
    app.renderPending();
  }
}
