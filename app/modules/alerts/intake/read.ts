/**
 * The intake's read of the alerts a group has not cached (its miss path, ADR 0013): by fingerprint,
 * each row with its pending repeats joined once (`storedAlertJoined`).
 *
 * On a local file the read runs on the database's transaction thread (`threadReader`): that
 * connection is the one that commits the intake's groups, so its page cache stays warm, where the
 * client's connection found every page cold after each of those commits (the miss path's largest
 * cost in the profile, on random order most of a group is read). Queued behind the transactions
 * sent before it, the read sees the group in flight committed (or rolled back): the same as a read
 * made on the client after it, which the checks at the commit already allow for (alert-cache.ts).
 */
import { Column, eq, is, sql, SQL } from 'drizzle-orm'
import { type Db, threadReader } from '../../../../db/client.ts'
import { alertRepeats, alerts, type Alert, storedAlertJoined } from '../../../../db/schema/alerts.ts'

/** The read as a Drizzle query (the client's connection, or a locked transaction's). */
export const alertsQuery = (db: Db, fingerprints: string[]) =>
  db
    .select(storedAlertJoined)
    .from(alerts)
    .leftJoin(alertRepeats, eq(alertRepeats.alertId, alerts.id))
    .where(sql`${alerts.fingerprint} in (select value from json_each(${JSON.stringify(fingerprints)}))`)

type Decode = (value: unknown) => unknown
/** Per selected field, in the select's order, how its driver value becomes the row's (Drizzle's own mapping). */
const decoders = (): [keyof Alert, Decode][] =>
  Object.entries(storedAlertJoined).map(([key, field]) => {
    // A `sql` field's `mapWith` decoder is not in Drizzle's public types; the mapping is the one its
    // own results use (its `mapResultRow`).
    const decoder = is(field, SQL)
      ? (field as unknown as { decoder?: { mapFromDriverValue: Decode } }).decoder
      : undefined
    const decode: Decode = is(field, Column)
      ? (v) => field.mapFromDriverValue(v)
      : decoder
        ? (v) => decoder.mapFromDriverValue(v)
        : (v) => v
    return [key as keyof Alert, decode]
  })

/**
 * The read of one intake: its SQL text made once (it never depends on the fingerprints, which
 * travel as one JSON parameter) and the rows decoded as Drizzle would.
 */
export function createAlertsRead(db: Db) {
  const onThread = threadReader(db)
  if (!onThread) return (fingerprints: string[]) => alertsQuery(db, fingerprints) as Promise<Alert[]>
  const text = alertsQuery(db, []).toSQL().sql
  const fields = decoders()
  return async (fingerprints: string[]): Promise<Alert[]> => {
    const rows = await onThread(text, [JSON.stringify(fingerprints)])
    return rows.map((row) => {
      const a = {} as Record<keyof Alert, unknown>
      for (let i = 0; i < fields.length; i++) {
        const [key, decode] = fields[i]!
        const v = row[i]
        a[key] = v === null || v === undefined ? null : decode(v)
      }
      return a as Alert
    })
  }
}
