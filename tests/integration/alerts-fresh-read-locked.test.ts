/**
 * The group commit's fresh read after a refusal cannot be overtaken (ADR 0012). An intruder (a
 * second connection to the same file, as another instance's commit would be) changes the alert
 * each time the group is worked out, between the read and the write. The group worked out from
 * the cache is refused, as it must be; the fresh read then takes the write lock first, so the
 * intruder's next commit is what fails (SQLITE_BUSY at once: its busy timeout is 0), and the
 * delivery is applied with the person's acknowledge and the intruder's change kept. Before, each
 * fresh read was overtaken in turn and the delivery failed with a 500.
 *
 * Without a local file (`:memory:`, a remote database) there is no lock to take across the reads:
 * a delivery overtaken at every attempt answers 503 with Retry-After (senders retry it), never 500.
 * Deterministic: the intruder writes from inside the lifecycle's hook, no timing involved.
 */
import { eq, sql } from 'drizzle-orm'
import Database from 'libsql'
import { afterAll, describe, expect, it } from 'vitest'
import { createAlerts } from '../../app/modules/alerts/index.ts'
import type { AlertReport, TransitionHook } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { NO_STATEMENTS } from '../../app/modules/alerts/lifecycle/lifecycle.ts'
import { AppError } from '../../app/lib/errors.ts'
import { openDb } from '../../db/client.ts'
import { runMigrations } from '../../db/migrate.ts'
import { alerts, storedAlert } from '../../db/schema/alerts.ts'
import { testApp } from '../helpers/app.ts'

const t = await testApp()
const path = t.config.DATABASE_URL.slice('file:'.length)
const closing: (() => void)[] = [() => t.close()]
afterAll(() => {
  for (const close of closing.reverse()) close()
})

const report = (fingerprint: string): AlertReport => ({
  fingerprint,
  source: 'test',
  state: 'firing',
  severity: 'warning',
  title: fingerprint,
  labels: { alertname: fingerprint, host: 'h1' },
})

/** A hook that, once armed, runs `intrude` for the given fingerprint each time a transition of it is worked out. */
function intruderHook(fingerprint: string, intrude: () => void | Promise<void>) {
  const state = { armed: false }
  const hook: TransitionHook = async (_db, tr) => {
    if (state.armed && tr.after.fingerprint === fingerprint) await intrude()
    return NO_STATEMENTS
  }
  return { state, hook }
}

describe('the fresh read after a refusal', () => {
  it('takes the write lock first: an intruder between read and write is held off, nothing is lost', async () => {
    const fp = 'locked-fresh-read'
    // The intruder: its own connection, no busy timeout, so a held lock shows at once as SQLITE_BUSY.
    const intruder = new Database(path)
    intruder.exec('PRAGMA busy_timeout=0')
    closing.push(() => intruder.close())
    const bump = intruder.prepare('update alerts set updated_at = updated_at + 1 where fingerprint = ?')
    const seen = { committed: 0, busy: 0, other: [] as string[] }
    const { state, hook } = intruderHook(fp, () => {
      try {
        bump.run([fp])
        seen.committed++
      } catch (e) {
        if ((e as { code?: string }).code === 'SQLITE_BUSY') seen.busy++
        else seen.other.push(String(e))
      }
    })
    // A second server's alerts service on its own connection, with the intruder among its hooks.
    const other = await openDb({ url: t.config.DATABASE_URL })
    closing.push(() => other.client.close())
    const service = createAlerts({ db: other.db, hooks: [hook] })

    const [created] = await service.reportMany([report(fp)])
    expect(created!.change).toBe('created')
    // A person acknowledges on the first instance: the second's cached row is now stale.
    await t.services.alerts.acknowledge(created!.alert!.id, { actor: 'person' })

    state.armed = true
    const [repeated] = await service.reportMany([report(fp)])
    state.armed = false

    // The cached group was worked out, overtaken by the intruder and refused; the fresh read took
    // the lock before reading, so the intruder's second commit was refused instead.
    expect(seen).toEqual({ committed: 1, busy: 1, other: [] })
    expect(repeated!.change).toBe('repeated')
    expect(repeated!.alert!.status).toBe('acknowledged')
    expect(repeated!.alert!.ackBy).toBe('person')
    const [stored] = await t.db.select(storedAlert).from(alerts).where(eq(alerts.fingerprint, fp))
    expect(stored!.status).toBe('acknowledged')
    expect(stored!.ackBy).toBe('person')
    expect(stored!.repeatCount).toBe(repeated!.alert!.repeatCount)
    // The row written was worked out from the intruder's committed change, not written over it.
    expect(stored!.updatedAt).toBeGreaterThanOrEqual(repeated!.alert!.updatedAt)
  })

  it('without a local file, a delivery overtaken at every attempt answers 503 with Retry-After', async () => {
    const memory = await openDb({ url: ':memory:' })
    closing.push(() => memory.client.close())
    await runMigrations(memory.db)
    const fp = 'overtaken-every-time'
    // The same connection is the only one an in-memory database has: the intruder writes through it.
    const { state, hook } = intruderHook(fp, async () => {
      await memory.db
        .update(alerts)
        .set({ updatedAt: sql`${alerts.updatedAt} + 1` })
        .where(eq(alerts.fingerprint, fp))
    })
    const service = createAlerts({ db: memory.db, hooks: [hook] })
    await service.reportMany([report(fp)])
    state.armed = true
    const failure = await service.reportMany([report(fp)]).then(
      () => undefined,
      (e: unknown) => e,
    )
    state.armed = false
    expect(failure).toBeInstanceOf(AppError)
    expect(failure).toMatchObject({ status: 503, code: 'alerts_busy', headers: { 'Retry-After': '1' } })
    // Nothing of the refused delivery was written: the next one applies as usual (the creation
    // counted one report, this one the second).
    const [next] = await service.reportMany([report(fp)])
    expect(next!.change).toBe('repeated')
    expect(next!.alert!.repeatCount).toBe(2)
  })
})
