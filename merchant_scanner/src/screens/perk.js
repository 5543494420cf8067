// Screen 2, the perk being given: one button per perk the partner offers today.

import { permilleLabel } from '../money.js';
import { KIND_LABELS } from '../messages.js';
import { windowsLabel } from '../perks.js';
import { saveSession } from '../session.js';
import { $ } from '../ui.js';

export function showPerkChoice(app) {
  const partner = app.session.partner;
  $('perk-partner').textContent = partner.name;
  const list = $('perk-list');
  list.textContent = '';
  const perks = partner.perks || [];
  if (perks.length === 0) {
    const p = document.createElement('p');
    p.className = 'empty';
    p.textContent = '本商户暂无可核销的优惠，请联系信用办。';
    list.append(p);
  }
  for (const perk of perks) {
    const b = document.createElement('button');
    b.type = 'button';
    b.className = 'btn secondary big';
    b.textContent = perk.title;
    const small = document.createElement('small');
    const kind = perk.kind === 'discount'
      ? `${KIND_LABELS.discount} · ${permilleLabel(perk.discount_permille)}`
      : KIND_LABELS[perk.kind] || perk.kind;
    const hours = windowsLabel(perk);  // 特定时段: outside them the server refuses (perk_outside_hours)
    small.textContent = hours ? `${kind} · ${hours}` : kind;
    b.append(small);
    b.addEventListener('click', () => {
      saveSession(app, { ...app.session, perk_id: perk.id });
      app.renderTopbar();
      app.goScan();
    });
    list.append(b);
  }
  app.show('perk');
}
