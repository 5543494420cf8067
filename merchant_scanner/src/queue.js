// The outbox. Every redemption the cashier confirms is written here first, then sent; it leaves
// the "pending" state only on a definitive answer from the server (2xx, or a 4xx problem with a
// code that a retry cannot change). Network errors, time-outs, 5xx, 401 and 429 keep it pending
// and it is resent later with the SAME client_id, which the server deduplicates. Nothing is
// deleted while pending, so closing the tab or losing the network never loses a redemption.

import { openDB } from 'idb';

const STORE = 'redemptions';

/** Statuses a retry can change: the item stays pending. */
export function isRetryable(status) {
  return status === 401 || status === 408 || status === 425 || status === 429 || status >= 500;
}

/**
 * What a send outcome does to a queued record (pure).
 * outcome: {network: true, error} | {status, body}
 */
export function applyOutcome(record, outcome, nowIso = new Date().toISOString()) {
  const next = { ...record, attempts: (record.attempts || 0) + 1, last_attempt_at: nowIso };
  if (outcome.network || isRetryable(outcome.status) || !outcome.body) {
    next.state = 'pending';
    next.last_error = outcome.network ? 'network'
      : (outcome.body && outcome.body.code) || `http_${outcome.status}`;
    return next;
  }
  if (outcome.status === 200 || outcome.status === 201) {
    next.state = 'synced';
    next.server = outcome.body;
    next.last_error = null;
    return next;
  }
  if (outcome.status >= 400 && outcome.body.code) {
    next.state = 'refused';
    next.problem = { status: outcome.status, code: outcome.body.code, message: outcome.body.message || '' };
    next.last_error = null;
    return next;
  }
  next.state = 'pending';
  next.last_error = `http_${outcome.status}`;
  return next;
}

/**
 * This phone's copy of a redemption after the server voided it (the void's answer in `server`):
 * the offline list and its totals then leave it out, as the server's do (pure).
 */
export function markVoided(record, server) {
  // The void's answer leaves out what only the list and the redemption's answer carry (the alias).
  const known = Object.fromEntries(Object.entries(server).filter(([, v]) => v !== null && v !== undefined));
  return { ...record, state: 'voided', server: { ...(record.server || {}), ...known } };
}

/** Backoff between automatic retries of one item: 5 s doubling to 5 min. */
export function retryDelayMs(attempts) {
  return Math.min(5000 * 2 ** Math.max(0, attempts - 1), 300000);
}

export class Queue {
  constructor(db) {
    this.db = db;
    this.syncing = null;
  }

  static async open(name = 'xym-scanner') {
    const db = await openDB(name, 1, {
      upgrade(db) {
        const store = db.createObjectStore(STORE, { keyPath: 'client_id' });
        store.createIndex('state', 'state');
        store.createIndex('day', 'day');
      },
    });
    return new Queue(db);
  }

  /** Store a new redemption as pending. Refuses to overwrite: a client_id is used once. */
  async add(record) {
    const full = { attempts: 0, state: 'pending', created_at: new Date().toISOString(), ...record };
    await this.db.add(STORE, full);
    return full;
  }

  get(clientId) { return this.db.get(STORE, clientId); }

  async put(record) { await this.db.put(STORE, record); return record; }

  pending() { return this.db.getAllFromIndex(STORE, 'state', 'pending'); }

  async countPending() { return this.db.countFromIndex(STORE, 'state', 'pending'); }

  /** Records of one business day, newest scan first. */
  async day(day) {
    const rows = await this.db.getAllFromIndex(STORE, 'day', day);
    return rows.sort((a, b) => (a.scanned_at < b.scanned_at ? 1 : -1));
  }

  /** Forget settled records of days before `day` (pending ones are kept whatever their age). */
  async prune(day) {
    const tx = this.db.transaction(STORE, 'readwrite');
    let cursor = await tx.store.openCursor();
    while (cursor) {
      if (cursor.value.day < day && cursor.value.state !== 'pending') await cursor.delete();
      cursor = await cursor.continue();
    }
    await tx.done;
  }

  /** Send one record and store what the answer means for it. */
  async sendOne(record, send) {
    let outcome;
    try {
      outcome = await send(record);
    } catch (error) {
      outcome = { network: true, error };
    }
    // Re-read: another sync (another tab) may have settled it meanwhile; never step back.
    const current = await this.get(record.client_id);
    if (current && current.state !== 'pending') return current;
    const next = applyOutcome(current || record, outcome);
    await this.put(next);
    return next;
  }

  /**
   * Send every pending record that is due (or all when `force`). One sync at a time per page;
   * a concurrent call waits for the running one.
   */
  sync(send, { force = false, now = Date.now(), onChange = () => {} } = {}) {
    if (this.syncing) return this.syncing;
    this.syncing = (async () => {
      const result = { synced: 0, refused: 0, kept: 0 };
      const due = (await this.pending())
        .filter((r) => force || !r.last_attempt_at
          || Date.parse(r.last_attempt_at) + retryDelayMs(r.attempts) <= now)
        .sort((a, b) => (a.scanned_at < b.scanned_at ? -1 : 1));
      for (const record of due) {
        const next = await this.sendOne(record, send);
        if (next.state === 'synced') result.synced++;
        else if (next.state === 'refused') result.refused++;
        else result.kept++;
        onChange(next);
        // A dead network fails every item the same way; stop and let the next trigger retry.
        if (next.state === 'pending' && next.last_error === 'network') break;
      }
      return result;
    })().finally(() => { this.syncing = null; });
    return this.syncing;
  }
}
