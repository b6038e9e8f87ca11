/**
 * The alerts a process last read or wrote, by fingerprint, so that a delivery of repeats (most of
 * what Prometheus sends) need not read its alerts back: the lifecycle uses a cached row as the
 * alert's state, and the transaction that writes the delivery first checks, in SQL, that every
 * cached row it used is still what the database holds (`cacheCheck`): the same update time,
 * status, repeat count, silenced flag and rule. Anything another instance, a person or a job
 * changed since fails that check; the transaction is then rolled back and the group applied again
 * from a fresh read. So the cache only saves reads; it never decides anything alone. Bounded:
 * entries not used lately go first (app/lib/bounded-map.ts).
 */
import type { Db } from '../../../../db/client.ts'
import { alerts, type Alert } from '../../../../db/schema/alerts.ts'
import type { TxnStatement } from '../../../../db/txn-thread.ts'
import { alertState } from '../lifecycle/lifecycle.ts'
import { bloomFilter } from '../../../lib/bloom-filter.ts'
import { boundedMap } from '../../../lib/bounded-map.ts'

/** The most alerts one intake (one alerts service) keeps (about 1 KB each). */
export const ALERT_CACHE_MAX = 16_384

/**
 * With a database's transaction thread, each entry also keeps the epoch as of which it was right
 * (`transactionEpoch`, db/client.ts): a transaction sent with that epoch needs no check of it,
 * since the thread refuses the transaction if anything may have changed it since (another
 * connection's commit, a transaction rolled back). Only entries cached as of an earlier epoch are
 * checked; under intake, most are not, so most of the check's text is never written.
 */
export type AlertCache = {
  get(fingerprint: string): Alert | undefined
  /** Caches an alert as it stands (or will once the transaction sent with `epoch` commits). */
  set(a: Alert, epoch?: number): void
  /**
   * Whether a transaction made as of `epoch` that uses the cached alert must check it (it was
   * cached as of an earlier epoch, or with none); the entry is then taken as right as of `epoch`
   * (the transaction checks it, or is refused; either way a failed group drops its entries).
   */
  needsCheck(fingerprint: string, epoch: number): boolean
  delete(fingerprint: string): void
  readonly size: number
}

export function createAlertCache(max = ALERT_CACHE_MAX): AlertCache {
  const map = boundedMap<string, Alert>(max)
  return {
    get: (fp) => map.get(fp),
    set(a, epoch) {
      map.set(a.fingerprint, a)
      if (epoch !== undefined) map.mark(a.fingerprint, epoch)
    },
    needsCheck: (fp, epoch) => !(map.mark(fp, epoch) >= epoch),
    delete: (fp) => map.delete(fp),
    get size() {
      return map.size
    },
  }
}

/**
 * The fingerprints stored in the database as far as this process knows: all of them, read once
 * (the unique index only), plus every one it inserts since, kept in a Bloom filter (a few bits
 * each, however many alerts the database holds). A fingerprint neither cached nor known is taken
 * to be new without reading it, and its insert is checked by the unique index: a fingerprint
 * another instance created meanwhile fails the transaction, which is then applied again from a
 * fresh read. (Reading them first cost most of the intake's main thread once the transactions
 * moved to their own thread: each read after another connection's commit starts with a cold page
 * cache.) A hint only: a known fingerprint (or one of the filter's ≈ 1 % false positives) is read,
 * and one not found is new. A filter that outgrows its capacity is read again, four times larger.
 */
export type KnownFingerprints = { has(fingerprint: string): boolean; add(fingerprint: string): void }

const KNOWN_MIN_CAPACITY = 65_536
/**
 * The known fingerprints of one intake (one alerts service): read when first asked for, and again
 * once the filter outgrows its capacity. `minCapacity`: the least the filter is made for when it
 * is (re)built (tests make it small).
 */
export function createKnownFingerprints(db: Db) {
  let known: Promise<KnownFingerprints> | undefined
  return (minCapacity = KNOWN_MIN_CAPACITY): Promise<KnownFingerprints> => {
    if (!known) {
      const current: Promise<KnownFingerprints> = (known = db
        .select({ fingerprint: alerts.fingerprint })
        .from(alerts)
        .then((rows) => {
          const filter = bloomFilter(Math.max(minCapacity, rows.length * 4))
          for (const r of rows) filter.add(r.fingerprint)
          return {
            has: (fp: string) => filter.has(fp),
            add(fp: string) {
              filter.add(fp)
              if (filter.size > filter.capacity && known === current) known = undefined
            },
          }
        }))
      current.catch(() => {
        if (known === current) known = undefined
      })
    }
    return known
  }
}

/**
 * What is compared of a cached alert: its update time, status, repeat count, silenced flag, rule (one
 * string; the same as a single write's guard compares, see `alertState` in ../lifecycle/lifecycle.ts).
 */
const cachedState = alertState

/**
 * A statement that fails (SQLite's "malformed JSON", so the batch it opens rolls back) unless
 * every row of `used` is still stored as it is cached. One parameter, an object from alert id to
 * its state as one string, so SQLite parses the JSON once and compares each row's state as text
 * (six `json_extract` calls a row cost far more, ADR 0002); the rows found by primary key.
 */
export function cacheCheck(used: Alert[]): TxnStatement {
  // The JSON text written out directly: an object with a key per alert cost more to make (in the
  // intake's allocation) than the text itself.
  // An id and rule id that need no escaping (ULIDs) go between quotes as they are: half the cost of
  // two JSON.stringify calls an alert.
  let states = ''
  for (const a of used) {
    const state = cachedState(a)
    const entry =
      plainText(a.id) && plainText(a.ruleId ?? '')
        ? `"${a.id}":"${state}"`
        : `${JSON.stringify(a.id)}:${JSON.stringify(state)}`
    states += states ? `,${entry}` : entry
  }
  return { sql: CACHE_CHECK, args: [`{${states}}`, used.length] }
}
/** Text that a JSON string literal holds as it is between quotes: no quote, backslash or control character. */
export const plainText = (s: string) => !NEEDS_ESCAPE.test(s)
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are exactly what JSON must escape
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/
// Compared with the alert as it stands: its row plus its pending repeats (see `storedAlert`).
const CACHE_CHECK = `select case when (select count(*) from json_each(?) v join alerts a on a.id = v.key left join alert_repeats r on r.alert_id = a.id
    where v.value = max(a.updated_at, coalesce(r.updated_at, 0)) || '|' || a.status || '|' || (a.repeat_count + coalesce(r.n, 0)) || '|' || a.silenced || '|' || coalesce(a.rule_id, '')) = ? then 1 else json('stale alert cache') end`

/** Whether an error is `cacheCheck`'s, or the transaction thread's refusal of a transaction made before the database changed. */
export const isStaleCache = (error: unknown) =>
  /malformed JSON|stale alert cache/i.test(
    `${String((error as Error)?.message ?? error)} ${String(((error as Error)?.cause as Error | undefined)?.message ?? '')}`,
  )
