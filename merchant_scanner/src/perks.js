// What the verdict tells the cashier besides yes or no, as pure rules: the holder's kind in words,
// the quota a perk gives this tier (可借 4 册), the repeat-visit warning, and the 12-digit short code.

export const HOLDER_KINDS = { person: '个人', company: '企业' };

const QUOTA_VERBS = { 册: '可借', 次: '可用', 件: '可借', 本: '可借' };

/**
 * The quota of `perk` for a holder of tier level `tierLevel`: the entry of the highest tier code
 * at or below it (the server's rule, backend/merchants/service.py _quota_for). `levelOf(code)`
 * maps a tier code to its level (from the key list). Null when the perk has no quotas.
 */
export function quotaFor(perk, tierLevel, levelOf) {
  if (!perk || !perk.quota_by_tier) return null;
  let best = null;
  for (const [code, quota] of Object.entries(perk.quota_by_tier)) {
    const level = levelOf(code);
    if (level !== null && level !== undefined && level <= tierLevel && (best === null || level > best.level)) {
      best = { level, quota };
    }
  }
  return best ? best.quota : null;
}

/** "可借 4 册" for a quota in a unit (a plain "额度 4" without one). */
export function quotaLine(quota, unit) {
  if (quota === null || quota === undefined) return '';
  if (!unit) return `额度 ${quota}`;
  return `${QUOTA_VERBS[unit] || '可享'} ${quota} ${unit}`;
}

/** The warning for a holder already served here lately; '' when there is none. Says nothing more. */
export function repeatWarning(visits, minutes) {
  if (!visits) return '';
  return `注意：该顾客 ${minutes} 分钟内已在本店核销 ${visits} 次，请确认不是重复核销`;
}

/** The 12 digits of a typed short code (spaces and dashes allowed between them), or null. */
export function shortCodeOf(text) {
  const digits = String(text || '').replace(/[\s-]/g, '');
  return /^\d{12}$/.test(digits) ? digits : null;
}

/** "1234 5678 9012": the code as the citizen's page shows it. */
export function groupDigits(code) {
  return code.replace(/(\d{4})(?=\d)/g, '$1 ');
}

/** "每天 09:00–11:30、14:00–17:00" for a perk usable only in time-of-day windows (Beijing time), else ''. */
export function windowsLabel(perk) {
  const windows = (perk && perk.time_windows) || [];
  return windows.length ? `每天 ${windows.map((w) => w.replace('-', '–')).join('、')}` : '';
}
