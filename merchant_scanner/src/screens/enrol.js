// Screen 1, enrolment: a one-time code from the merchant's admin (typed, scanned, or carried by
// the link that opened the page), or a cashier's token as the fallback.

import { request } from '../api.js';
import { CameraScanner } from '../camera.js';
import { explain } from '../messages.js';
import { getDetector } from '../platform.js';
import { saveSession } from '../session.js';
import { $ } from '../ui.js';

let enrolCamera = null;

/** The code from a scanned or opened enrolment QR: the bare code, or a link carrying `enrol=`. */
export function enrolmentCodeFrom(text) {
  const m = /[?#&]enrol(?:ment)?(?:_code)?=([^&#]+)/i.exec(text || '');
  return (m ? decodeURIComponent(m[1]) : text || '').trim();
}

/** Show the enrolment screen, with the code filled in when the admin's link opened the page. */
export function showEnrol(app) {
  const carried = location.search + location.hash;
  const code = enrolmentCodeFrom(carried);
  if (code && code !== carried) $('enrol-code').value = code;
  app.show('enrol');
}

async function enrol(app, event) {
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
      saveSession(app, { token: b.device_token, kind: 'device', device: b.device, partner: b.partner, perk_id: null });
      app.signedIn();
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

async function signInWithToken(app, event) {
  event.preventDefault();
  const token = $('token-input').value.trim();
  if (!token) return;
  $('enrol-error').textContent = '';
  try {
    const res = await request('GET', '/merchant/me', { token });
    if (res.status === 200 && res.body && res.body.partner) {
      saveSession(app, { token, kind: 'staff', device: res.body.device || null, partner: res.body.partner, perk_id: null });
      app.signedIn();
    } else {
      $('enrol-error').textContent = '令牌无效或已过期。';
    }
  } catch {
    $('enrol-error').textContent = '网络不可用，登录需要联网。';
  }
}

async function startEnrolCamera() {
  if (!CameraScanner.available()) { $('enrol-error').textContent = '此浏览器无法打开摄像头，请手动输入绑定码。'; return; }
  $('enrol-camera').hidden = false;
  enrolCamera = new CameraScanner($('enrol-video'), {
    getDetector,
    onResult: (text) => {
      stopEnrolCamera();
      $('enrol-code').value = enrolmentCodeFrom(text);
      if ($('enrol-form').requestSubmit) $('enrol-form').requestSubmit(); else $('enrol-submit').click();
    },
  });
  try { await enrolCamera.start(); } catch {
    stopEnrolCamera();
    $('enrol-error').textContent = '无法打开摄像头，请手动输入绑定码。';
  }
}

export function stopEnrolCamera() {
  if (enrolCamera) enrolCamera.stop();
  enrolCamera = null;
  $('enrol-camera').hidden = true;
}

export function wireEnrol(app) {
  $('enrol-form').addEventListener('submit', (e) => enrol(app, e));
  $('token-form').addEventListener('submit', (e) => signInWithToken(app, e));
  $('enrol-scan').addEventListener('click', startEnrolCamera);
  $('enrol-scan-stop').addEventListener('click', stopEnrolCamera);
}
