// The rules the screens hold: the void window is the server's, the session and the perk choice,
// and reading an enrolment code from a scanned link.
import test from 'node:test';
import assert from 'node:assert/strict';

import { canVoid } from '../src/screens/today.js';
import { enrolmentCodeFrom } from '../src/screens/enrol.js';
import { currentPerk, loadSession, perkTitleById, saveSession, SESSION_KEY } from '../src/session.js';

const NOW = Date.parse('2026-12-01T04:00:00Z');

test('a row may be voided only until the voidable_until the server gave', () => {
  assert.equal(canVoid({ voidable_until: '2026-12-01T04:05:00Z' }, NOW), true);
  assert.equal(canVoid({ voidable_until: '2026-12-01T03:59:59Z' }, NOW), false);
  // Voided or not the merchant's to void: the server sends null.
  assert.equal(canVoid({ voidable_until: null, recorded_at: '2026-12-01T03:59:00Z' }, NOW), false);
});

test('without voidable_until (this phone\'s own copy) the scanner does not guess a window', () => {
  assert.equal(canVoid({ recorded_at: '2026-12-01T03:59:00Z', scanned_at: '2026-12-01T03:58:00Z' }, NOW), false);
});

function memoryStorage() {
  const items = new Map();
  return {
    getItem: (k) => (items.has(k) ? items.get(k) : null),
    setItem: (k, v) => items.set(k, String(v)),
    removeItem: (k) => items.delete(k),
    items,
  };
}

const PARTNER = { id: 1, name: '辣盆盆小龙虾饭店', perks: [{ id: 7, title: '九八折' }, { id: 8, title: '绿色通道' }] };

test('the session is kept across a restart, and signing out forgets it', () => {
  const storage = memoryStorage();
  const app = { session: null };
  saveSession(app, { token: 't', kind: 'device', partner: PARTNER, perk_id: 8 }, storage);
  assert.equal(app.session.perk_id, 8);
  assert.deepEqual(loadSession(storage), app.session);
  saveSession(app, null, storage);
  assert.equal(app.session, null);
  assert.equal(storage.items.has(SESSION_KEY), false);
  assert.equal(loadSession(storage), null);
});

test('a damaged saved session reads as signed out', () => {
  const storage = memoryStorage();
  storage.setItem(SESSION_KEY, '{not json');
  assert.equal(loadSession(storage), null);
});

test('the current perk is one the partner still offers', () => {
  assert.equal(currentPerk({ partner: PARTNER, perk_id: 8 }).title, '绿色通道');
  assert.equal(currentPerk({ partner: PARTNER, perk_id: 99 }), null);
  assert.equal(currentPerk(null), null);
  assert.equal(perkTitleById({ partner: PARTNER }, 7), '九八折');
  assert.equal(perkTitleById({ partner: PARTNER }, 99), '');
});

test('an enrolment code is read from a bare code or from the admin\'s link', () => {
  assert.equal(enrolmentCodeFrom(' 7K3Q-9MPD\n'), '7K3Q-9MPD');
  assert.equal(enrolmentCodeFrom('https://x.example/scanner/?enrol=7K3Q-9MPD'), '7K3Q-9MPD');
  assert.equal(enrolmentCodeFrom('#enrolment_code=AB%2DCD&x=1'), 'AB-CD');
  assert.equal(enrolmentCodeFrom(''), '');
});
