import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { explain } from '../src/messages.js';

// Every refusal a cashier can meet reads as plain Chinese, not as a code.
const vectors = JSON.parse(readFileSync(new URL('../../tests/vectors/pass.json', import.meta.url), 'utf8'));
const SERVER_CODES = ['pass_invalid', 'pass_expired', 'pass_not_yet_valid', 'pass_key_revoked', 'pass_unknown_issuer',
  'pass_unknown_key', 'pass_already_used', 'tier_not_eligible', 'holder_blacklisted', 'perk_unavailable',
  'limit_reached', 'offline_too_late', 'unauthorized', 'forbidden', 'validation_error', 'rate_limited',
  'void_window_closed', 'enrolment_code_invalid'];

test('every vector refusal and every contract code has its own Chinese title and hint', () => {
  const cases = vectors.cases.filter((c) => !c.valid).map((c) => [c.code, c.reason]);
  for (const [code, reason] of [...cases, ...SERVER_CODES.map((c) => [c, null])]) {
    const e = explain(code, reason);
    assert.match(e.title, /[\u4e00-\u9fff]/, `${code}/${reason}`);
    assert.ok(!e.hint.includes('错误代码'), `${code}/${reason} falls back to the generic text`);
  }
  assert.equal(explain('pass_expired').hint, '请让顾客刷新信用码后重新出示');
  assert.match(explain('pass_invalid', 'signature').hint, /篡改或伪造/);
});

test('an unknown code still reads as something, with the server message when there is one', () => {
  assert.equal(explain('brand_new_code', null, '新的服务器提示').title, '新的服务器提示');
  assert.match(explain('brand_new_code').hint, /brand_new_code/);
});
