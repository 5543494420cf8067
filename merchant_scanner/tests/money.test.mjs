import { test } from 'node:test';
import assert from 'node:assert/strict';
import { price, parseYuan, formatFen, formatYuan, permilleLabel } from '../src/money.js';

test('payable is rounded half up to the fen, the discount is the rest (server rule)', () => {
  assert.deepEqual(price(10000, 980), { payable_fen: 9800, discount_fen: 200 });
  assert.deepEqual(price(12345, 980), { payable_fen: 12098, discount_fen: 247 }); // 12098.1
  assert.deepEqual(price(25, 980), { payable_fen: 25, discount_fen: 0 }); // 24.5 -> 25 (half up)
  assert.deepEqual(price(75, 980), { payable_fen: 74, discount_fen: 1 }); // 73.5 -> 74
  assert.deepEqual(price(1, 980), { payable_fen: 1, discount_fen: 0 });
  assert.deepEqual(price(100000000000, 980), { payable_fen: 98000000000, discount_fen: 2000000000 });
  assert.deepEqual(price(99999, 950), { payable_fen: 94999, discount_fen: 5000 }); // 94999.05
});

test('the preview agrees with the server formula on every amount up to 100 yuan', () => {
  for (const permille of [980, 950, 900, 885]) {
    for (let a = 1; a <= 10000; a++) {
      const { payable_fen, discount_fen } = price(a, permille);
      // Python: (amount_fen * discount_permille + 500) // 1000, exact in integers
      const expected = Number((BigInt(a) * BigInt(permille) + 500n) / 1000n);
      assert.equal(payable_fen, expected);
      assert.equal(discount_fen, a - expected);
    }
  }
});

test('a cap on the discount moves the rest back to the payable', () => {
  assert.deepEqual(price(1000000, 980, 5000), { payable_fen: 995000, discount_fen: 5000 });
  assert.deepEqual(price(1000, 980, 5000), { payable_fen: 980, discount_fen: 20 });
});

test('bad inputs are refused, not rounded', () => {
  assert.throws(() => price(1.5, 980), RangeError);
  assert.throws(() => price(-1, 980), RangeError);
  assert.throws(() => price(100, 1000), RangeError);
  assert.throws(() => price(100, 0), RangeError);
});

test('typed yuan become fen without floating point', () => {
  assert.equal(parseYuan('128'), 12800);
  assert.equal(parseYuan('128.5'), 12850);
  assert.equal(parseYuan('128.50'), 12850);
  assert.equal(parseYuan('0.29'), 29);
  assert.equal(parseYuan('¥1,280.05'), 128005);
  assert.equal(parseYuan(' 36. '), 3600);
  for (const bad of ['', '0', '0.00', '-5', '1.234', 'abc', '1e3', '.5', '10000000001', null]) {
    assert.equal(parseYuan(bad), null, String(bad));
  }
});

test('fen are shown as yuan with two decimals', () => {
  assert.equal(formatFen(12850), '¥128.50');
  assert.equal(formatFen(5), '¥0.05');
  assert.equal(formatFen(128005000), '¥1,280,050.00');
  assert.equal(permilleLabel(980), '9.8折');
  assert.equal(permilleLabel(900), '9折');
  assert.equal(permilleLabel(985), '9.85折');
});

test('formatYuan is the same integer rule without the sign, and refuses a float', () => {
  assert.equal(formatYuan(12850), '128.50');
  assert.equal(formatYuan(128005000), '1,280,050.00');
  assert.equal(formatYuan(0), '0.00');
  assert.equal(formatYuan(-257), '-2.57');
  assert.equal(formatFen(-257), '-¥2.57');
  // 0.1 + 0.2 yuan as a float would print as 0.30 and hide the error: money is never a float here.
  assert.throws(() => formatYuan(30.000000000000004), RangeError);
});
