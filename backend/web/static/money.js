// Money on the citizen and office pages: integer fen, formatted by the scanner's money module, so
// the rule (merchant_scanner/src/money.js, tested by its node tests) is written once for every
// front end. Never divide fen by 100 into a float for display.
export { formatFen, formatYuan, permilleLabel } from "/scanner/src/money.js";
