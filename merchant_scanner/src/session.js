// The signed-in scanner: its token (a device's or a staff member's), its partner with the perks,
// and the perk being given. Kept in localStorage, so a reload at the counter keeps it.

export const SESSION_KEY = 'xym.scanner.session';

/** {token, kind: 'device' | 'staff', device, partner, perk_id}, or null when not enrolled. */
export function loadSession(storage = globalThis.localStorage) {
  try { return JSON.parse(storage.getItem(SESSION_KEY) || 'null'); } catch { return null; }
}

/** Make `session` the app's (null signs out) and keep it for the next start. */
export function saveSession(app, session, storage = globalThis.localStorage) {
  app.session = session;
  if (session) storage.setItem(SESSION_KEY, JSON.stringify(session));
  else storage.removeItem(SESSION_KEY);
}

/** The perk the cashier chose, if the partner still offers it. */
export function currentPerk(session) {
  return (session && session.partner && (session.partner.perks || []).find((p) => p.id === session.perk_id)) || null;
}

export function perkTitleById(session, id) {
  const perk = session && (session.partner.perks || []).find((p) => p.id === id);
  return perk ? perk.title : '';
}
