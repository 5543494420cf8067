// The page's small helpers: element lookup, escaping for the few places that build HTML, the
// toast, and which screen is on show. They know the DOM of index.html and nothing of the rules.

export const $ = (id) => document.getElementById(id);

/** For the few places that build HTML: partner and perk names are data, never markup. */
export const esc = (text) => String(text ?? '').replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

let toastTimer = null;

export function toast(text, ms = 2500) {
  const el = $('toast');
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, ms);
}

export const SCREENS = ['enrol', 'perk', 'scan', 'verdict', 'today', 'settings'];

/** Show one screen; the top bar and the tabs only once the phone is enrolled. */
export function showScreen(name, { enrolled }) {
  for (const s of SCREENS) $(`screen-${s}`).hidden = s !== name;
  $('topbar').hidden = !enrolled || name === 'enrol';
  $('tabs').hidden = !enrolled || name === 'enrol' || name === 'perk';
  const tab = name === 'verdict' ? 'scan' : name;
  for (const b of document.querySelectorAll('.tabs button')) b.classList.toggle('active', b.dataset.tab === tab);
  document.body.dataset.screen = name;
  window.scrollTo(0, 0);
}
