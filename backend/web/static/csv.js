// CSV for spreadsheets, safe to open: a cell that a spreadsheet would read as a formula (one
// starting with = + - @, a tab or a carriage return) gets a leading ' so it stays text (OWASP's
// CSV injection advice); quotes, commas and line breaks are quoted as RFC 4180 says.

const FORMULA_START = /^[=+\-@\t\r]/;

/** One cell as text: formula-safe, quoted when it must be. */
export function csvCell(value) {
  let text = value === null || value === undefined ? "" : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** Rows (arrays of cells) as a CSV document with CRLF line ends and a BOM, so Excel reads it as UTF-8. */
export function toCsv(rows) {
  return `\uFEFF${rows.map((row) => row.map(csvCell).join(",")).join("\r\n")}\r\n`;
}
