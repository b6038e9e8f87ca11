/**
 * The alerts a process last read or wrote, by fingerprint, so that a delivery of repeats (most of
 * what Prometheus sends) need not read its alerts back: the lifecycle uses a cached row as the
 * alert's state, and the transaction that writes the delivery first checks, in SQL, that every
 * cached row it used is still what the database holds (`cacheCheck`): the same update time,
 * status, repeat count, silenced flag and rule. Anything another instance, a person or a job
 * changed since fails that check; the transaction is then rolled back and the group applied again
 * from a fresh read. So the cache only saves reads; it never decides anything alone. Bounded:
 * the least recently used entries go first.
 */
import { sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'
import { alerts, type Alert } from '../../../db/schema/alerts.ts'

/** The most alerts a process keeps per database (about 1 KB each). */
export const ALERT_CACHE_MAX = 16_384

export type AlertCache = {
  get(fingerprint: string): Alert | undefined
  set(a: Alert): void
  delete(fingerprint: string): void
  readonly size: number
}

export function createAlertCache(max = ALERT_CACHE_MAX): AlertCache {
  const map = new Map<string, Alert>()
  return {
    get(fp) {
      const a = map.get(fp)
      if (a) {
        // Most recently used last.
        map.delete(fp)
        map.set(fp, a)
      }
      return a
    },
    set(a) {
      map.delete(a.fingerprint)
      map.set(a.fingerprint, a)
      while (map.size > max) map.delete(map.keys().next().value!)
    },
    delete(fp) {
      map.delete(fp)
    },
    get size() {
      return map.size
    },
  }
}

const caches = new WeakMap<Db, AlertCache>()
/** The cache of one database (every lifecycle over it in this process shares it). */
export function alertCacheOf(db: Db): AlertCache {
  let c = caches.get(db)
  if (!c) caches.set(db, (c = createAlertCache()))
  return c
}

/** What is compared of a cached row: its update time, status, repeat count, silenced flag, rule (after `check`, 1 or 0). */
export const cachedState = (a: Alert, check = true) => [check ? 1 : 0, a.updatedAt, a.status, a.repeatCount, a.silenced ? 1 : 0, a.ruleId]

/**
 * A statement that fails (SQLite's "malformed JSON", so the batch it opens rolls back) unless
 * every row of `used` is still stored as it is cached. One parameter; the rows found by primary key.
 */
export function cacheCheck(db: Db, used: Alert[]) {
  const data = JSON.stringify(used.map((a) => [a.id, ...cachedState(a).slice(1)]))
  return db.run(sql`select case when (select count(*) from json_each(${data}) v join ${alerts} a on a.id = json_extract(v.value, '$[0]')
    where a.updated_at = json_extract(v.value, '$[1]') and a.status = json_extract(v.value, '$[2]') and a.repeat_count = json_extract(v.value, '$[3]')
      and a.silenced = json_extract(v.value, '$[4]') and a.rule_id is json_extract(v.value, '$[5]')) = ${used.length} then 1 else json('stale alert cache') end`)
}

/** Whether an error is `cacheCheck`'s. */
export const isStaleCache = (error: unknown) => /malformed JSON/i.test(`${String((error as Error)?.message ?? error)} ${String(((error as Error)?.cause as Error | undefined)?.message ?? '')}`)

/** A statement that fails (as `cacheCheck`) unless the statement before it changed `n` rows. */
export const changesCheck = (db: Db, n: number) => db.run(sql`select case when changes() = ${n} then 1 else json('stale alert cache') end`)
