// The verdict's words: the quota a tier gets, the repeat warning, the short code as typed.
import test from 'node:test';
import assert from 'node:assert/strict';

import { groupDigits, quotaFor, quotaLine, repeatWarning, shortCodeOf, windowsLabel } from '../src/perks.js';

const LEVELS = { basic: 1, good: 2, excellent: 3 };
const levelOf = (code) => LEVELS[code] ?? null;
const LIBRARY = { kind: 'extra_quota', quota_by_tier: { basic: 3, good: 4, excellent: 5 }, quota_unit: '册' };

test('a quota perk gives the entry of the highest tier at or below the holder\'s', () => {
  assert.equal(quotaFor(LIBRARY, 2, levelOf), 4);
  assert.equal(quotaFor(LIBRARY, 3, levelOf), 5);
  assert.equal(quotaFor({ quota_by_tier: { good: 4 } }, 1, levelOf), null);
  assert.equal(quotaFor({ kind: 'discount' }, 3, levelOf), null);
  assert.equal(quotaLine(4, '册'), '可借 4 册');
  assert.equal(quotaLine(2, null), '额度 2');
  assert.equal(quotaLine(null, '册'), '');
});

test('the repeat warning names only a count and the minutes', () => {
  assert.equal(repeatWarning(0, 10), '');
  assert.equal(repeatWarning(2, 10), '注意：该顾客 10 分钟内已在本店核销 2 次，请确认不是重复核销');
});

test('a short code is 12 digits, typed with or without spaces; a pass text is not one', () => {
  assert.equal(shortCodeOf(' 1234 5678-9012 '), '123456789012');
  assert.equal(shortCodeOf('12345678901'), null);
  assert.equal(shortCodeOf('XYM:1234567890AB'), null);
  assert.equal(groupDigits('123456789012'), '1234 5678 9012');
});

test('a perk with time-of-day windows names them for the cashier; one without says nothing', () => {
  assert.equal(windowsLabel({ time_windows: ['09:00-11:30', '14:00-17:00'] }), '每天 09:00–11:30、14:00–17:00');
  assert.equal(windowsLabel({ time_windows: ['22:00-02:00'] }), '每天 22:00–02:00');
  assert.equal(windowsLabel({ time_windows: [] }), '');
  assert.equal(windowsLabel({ kind: 'discount' }), '');
  assert.equal(windowsLabel(null), '');
});
