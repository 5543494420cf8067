// Money is integer fen and discounts are integer per-mille (980 = pay 98%), as on the server.
// The one rounding rule is backend/merchants/service.py's: the price to charge is rounded half up
// to the fen, payable = floor((amount * permille + 500) / 1000), and the discount is the rest.
// The scanner shows this as a preview; once the server answers, its figures are what is shown.

export const MAX_AMOUNT_FEN = 10_000_000_00; // the server's limit on amount_fen

/** {payable_fen, discount_fen} for an amount under a discount perk (optionally capped). */
export function price(amountFen, permille, maxDiscountFen = null) {
  if (!Number.isSafeInteger(amountFen) || amountFen < 0) throw new RangeError('amount_fen');
  if (!Number.isInteger(permille) || permille <= 0 || permille >= 1000) throw new RangeError('discount_permille');
  let payable = Math.floor((amountFen * permille + 500) / 1000);
  let discount = amountFen - payable;
  if (maxDiscountFen !== null && maxDiscountFen !== undefined && discount > maxDiscountFen) {
    discount = maxDiscountFen;
    payable = amountFen - discount;
  }
  return { payable_fen: payable, discount_fen: discount };
}

/**
 * Parse what the cashier typed, in yuan ("128", "128.5", "¥128.50", "1,280"), into fen.
 * Returns null for anything that is not a positive amount with at most two decimals; never
 * goes through floating point, so "0.29" is 29 fen and not 28.
 */
export function parseYuan(text) {
  if (typeof text !== 'string') return null;
  const t = text.trim().replace(/^[¥￥]/, '').replace(/[,，]/g, '').replace(/。/g, '.');
  const m = /^(\d{1,9})(?:\.(\d{0,2}))?$/.exec(t);
  if (!m) return null;
  const fen = Number(m[1]) * 100 + Number((m[2] || '').padEnd(2, '0'));
  if (fen <= 0 || fen > MAX_AMOUNT_FEN) return null;
  return fen;
}

/** "¥1,280.50" from 128050 fen. */
export function formatFen(fen) {
  if (fen === null || fen === undefined) return '';
  return `${fen < 0 ? '-' : ''}¥${formatYuan(Math.abs(fen))}`;
}

/** "1,280.50" from 128050 fen: yuan without the sign, for a column or an axis already in 元. */
export function formatYuan(fen) {
  if (fen === null || fen === undefined) return '';
  if (!Number.isSafeInteger(fen)) throw new RangeError('fen');
  const sign = fen < 0 ? '-' : '';
  const abs = Math.abs(fen);
  const yuan = String(Math.floor(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
  return `${sign}${yuan}.${String(abs % 100).padStart(2, '0')}`;
}

/** "九八折" style label for a per-mille discount (980 -> 9.8折). */
export function permilleLabel(permille) {
  const zhe = permille / 100;
  return `${Number.isInteger(zhe) ? zhe : zhe.toFixed(permille % 10 ? 2 : 1)}折`;
}
