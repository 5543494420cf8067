// The back-office's CSV export (backend/web/static/csv.js): a cell never opens as a formula.
import test from 'node:test';
import assert from 'node:assert/strict';

import { csvCell, toCsv } from '../../backend/web/static/csv.js';

test('a cell starting with = + - @ tab or CR gets a leading quote mark', () => {
  for (const text of ['=HYPERLINK("http://x")', '+1', '-2+3', '@SUM(A1)', '\tx', '\rx']) {
    assert.ok(csvCell(text).replace(/^"/, '').startsWith("'"), text);
  }
  assert.equal(csvCell('=1+1'), "'=1+1");
  assert.equal(csvCell('2026-12-01'), '2026-12-01');
  assert.equal(csvCell(12.5), '12.5');
  assert.equal(csvCell(null), '');
});

test('quotes, commas and line breaks are quoted as RFC 4180 says', () => {
  assert.equal(csvCell('a,b'), '"a,b"');
  assert.equal(csvCell('say "hi"'), '"say ""hi"""');
  assert.equal(csvCell('=a,b'), '"\'=a,b"');
  assert.equal(toCsv([['日期', '金额'], ['2026-12-01', '1.00']]), '\uFEFF日期,金额\r\n2026-12-01,1.00\r\n');
});
