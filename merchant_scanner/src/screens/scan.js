// Screen 3, scanning: the camera (or the typed text) gives a pass, which is verified here, offline,
// against the cached key list and the perk's published rules; the verdict screen shows the outcome.

import { CameraScanner } from '../camera.js';
import { uuid4, shanghaiDay } from '../ids.js';
import { describeAge } from '../keys.js';
import { explain } from '../messages.js';
import { shortCodeOf } from '../perks.js';
import { getDetector, getVerifier } from '../platform.js';
import { currentPerk } from '../session.js';
import { recordScan } from '../timing.js';
import { $ } from '../ui.js';
import { verifyPass, describeClaims, PassRejected, asLocalTier } from '../verify.js';
import { showAccepted, showRefusal, showShortCode } from './verdict.js';

const READY_HINT = '请将顾客的信用码放入框内';

export async function goScan(app) {
  app.current = null;
  app.show('scan');
  $('manual-input').value = '';
  if (!checkKeysOrBlock(app)) return;
  await startCamera(app);
}

/** Scanning needs a fresh key list: a revoked key must not go on verifying. */
export function checkKeysOrBlock(app) {
  const usable = app.keys.isUsable();
  $('scan-blocker').hidden = usable;
  $('manual-form').hidden = !usable;
  $('viewfinder').hidden = !usable;
  if (!usable) {
    const e = explain(app.keys.entry ? 'key_list_stale' : 'key_list_missing');
    $('blocker-title').textContent = e.title;
    $('blocker-hint').textContent = `${e.hint}（上次更新：${describeAge(app.keys.ageMs())}）`;
    stopCamera(app);
  }
  return usable;
}

async function startCamera(app) {
  if (!CameraScanner.available()) {
    $('scan-hint').textContent = '此浏览器无法打开摄像头，请在下方手动输入';
    return;
  }
  if (!app.camera) {
    app.camera = new CameraScanner($('video'), { getDetector, onResult: (text, timing) => onCameraResult(app, text, timing) });
  }
  try {
    $('scan-hint').textContent = '正在打开摄像头…';
    await app.camera.start();
    $('scan-hint').textContent = READY_HINT;
    $('torch').hidden = !app.camera.torchSupported();
  } catch (err) {
    $('scan-hint').textContent = err && err.name === 'NotAllowedError'
      ? '没有摄像头权限：请在浏览器设置中允许，或在下方手动输入'
      : '摄像头无法打开，请在下方手动输入';
  }
}

export function stopCamera(app) {
  if (app.camera) app.camera.stop();
  app.camera = null;
  $('torch').setAttribute('aria-pressed', 'false');
}

async function toggleTorch(app) {
  const b = $('torch');
  const on = b.getAttribute('aria-pressed') !== 'true';
  try {
    await app.camera.setTorch(on);
    b.setAttribute('aria-pressed', String(on));
  } catch { b.hidden = true; }
}

/**
 * The customer often keeps showing the code after the verdict: the same text again from the
 * camera is not a new customer, so it gets a hint, not a second full-screen verdict.
 */
function onCameraResult(app, text, timing) {
  if (text === app.lastSettled) {
    $('scan-hint').textContent = '这个码刚刚已处理，请扫描下一位顾客';
    setTimeout(() => {
      if (app.camera) app.camera.resume();
      $('scan-hint').textContent = READY_HINT;
    }, 1500);
    return;
  }
  handleScan(app, text, timing);
}

export function tierLevelOf(trust, code) {
  for (const [level, c] of trust.tierLevels) if (c === code) return level;
  return null;
}

/** A scanned (or typed) text: verify offline, then show the verdict. */
async function handleScan(app, text, timing = {}) {
  const t = {
    frame_ts: timing.frameTs ?? performance.now(), frame_source: timing.frameSource || 'manual',
    detected_ts: timing.detectedTs ?? performance.now(),
  };
  const scannedAt = new Date().toISOString();
  if (!checkKeysOrBlock(app)) return;
  const perk = currentPerk(app.session);
  const trust = app.keys.trust;
  let claims;
  try {
    const { verify } = await getVerifier();
    claims = await verifyPass(text, { trust, now: Math.floor(Date.now() / 1000), verifyEd25519: verify });
    claims = asLocalTier(claims, trust); // a partner city's level as ours, as the server maps it
    // What the perk's published rules already tell us offline (the server still has the last word).
    const minLevel = perk.min_tier ? tierLevelOf(trust, perk.min_tier) : null;
    if ((minLevel !== null && claims.tier < minLevel)
        || (perk.holder_kinds && perk.holder_kinds.length && !perk.holder_kinds.includes(claims.kind))) {
      throw new PassRejected('tier_not_eligible', 'tier');
    }
    if (await usedHereBefore(app.queue, claims.pass_id, perk.id)) throw new PassRejected('pass_already_used', 'local');
  } catch (err) {
    if (!(err instanceof PassRejected)) throw err;
    t.verified_ts = performance.now();
    app.lastSettled = text;
    showRefusal(app, err.code, err.reason);
    recordScan(t, false, err.code);
    return;
  }
  t.verified_ts = performance.now();
  app.current = { text, claims, desc: describeClaims(claims, trust), perk, client_id: uuid4(), scanned_at: scannedAt };
  showAccepted(app);
  recordScan(t, true, null);
}

/** A typed 12-digit code: only the server can open it, so it needs the network now. */
function handleShortCode(app, code) {
  const perk = currentPerk(app.session);
  if (!app.online || navigator.onLine === false) {
    app.lastSettled = null;
    showRefusal(app, 'short_code_offline', null);
    return;
  }
  app.current = { text: null, shortCode: code, claims: null, desc: null, perk, client_id: uuid4(),
    scanned_at: new Date().toISOString() };
  showShortCode(app);
}

async function usedHereBefore(queue, passId, perkId) {
  if (!queue) return false;
  const rows = await queue.day(shanghaiDay());
  return rows.some((r) => r.pass_id === passId && r.perk_id === perkId && r.state !== 'refused');
}

/** "Next" (or "cancel") on the verdict: back to the camera, which is usually still running. */
function nextCustomer(app) {
  app.current = null;
  app.show('scan');
  if (app.camera && app.camera.running) { $('manual-input').value = ''; app.camera.resume(); } else goScan(app);
}

export function wireScan(app) {
  $('torch').addEventListener('click', () => toggleTorch(app));
  $('manual-form').addEventListener('submit', (e) => {
    e.preventDefault();
    // Trimmed (a pasted text may carry a newline) but not upper-cased: the verifier stays strict.
    const text = $('manual-input').value.trim();
    if (!text) return;
    if (app.camera) app.camera.pause();
    const code = shortCodeOf(text);
    if (code) handleShortCode(app, code); else handleScan(app, text);
  });
  $('next').addEventListener('click', () => nextCustomer(app));
}
