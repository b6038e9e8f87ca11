/**
 * The backups service, built once in app/services.ts: starts backups (one at a time per target),
 * verifies, drills, runs the two-admin live restore, enforces retention and reports status. What it
 * keeps in memory (the backups running in this process) lives in the object it returns.
 */
import { and, desc, eq, lt, sql } from 'drizzle-orm'
import type { Db } from '../../../../db/client.ts'
import {
  type Backup,
  type BackupRestore,
  backupRestores,
  backups,
  backupTargets,
} from '../../../../db/schema/backups.ts'
import type { Config } from '../../../config.ts'
import type { Sealer } from '../../../lib/crypto.ts'
import { AppError, conflict, forbidden, notFound } from '../../../lib/errors.ts'
import { newId } from '../../../lib/ids.ts'
import type { Logger } from '../../../lib/logger.ts'
import type { OutboundPolicy } from '../../../lib/outbound.ts'
import type { Scheduler } from '../../../lib/scheduler.ts'
import { clockOf, hours } from '../../../lib/time.ts'
import { writeAudit } from '../../audit/index.ts'
import { removePartialsOf, removeStalePartials } from '../destinations/local.ts'
import { removeStaleScratch } from '../sources/homeostat.ts'
import type { BackupCommands } from '../sources/command.ts'
import { restoreStore, restoreTargetOf } from '../stores/restore.ts'
import { startStoreBackup, verifyStoreCopy } from '../stores/run.ts'
import { isStoreTarget } from '../stores/sources.ts'
import { getTarget, listTargets } from '../targets/store.ts'
import { type BackupAlerts, raiseBackupMissed } from './alerts.ts'
import { backupDir, scratchDir, type SnapshotContext, storedDestination } from './context.ts'
import { type BackupEncryption, parseBackupEncryption } from './encryption.ts'
import { restoreProgress } from './progress.ts'
import { lastStarted, latestGood } from './queries.ts'
import { databaseManifest, drill, liveRestore } from './restore.ts'
import { pruneTarget } from './retention.ts'
import { ABANDONED_AFTER_MS, fail, startBackup, type Trigger } from './run.ts'
import { isMissed, nextRun } from './schedule.ts'
import { verifyStored } from './verify.ts'

export type BackupsDeps = {
  db: Db
  config: Config
  log: Logger
  alerts: BackupAlerts
  /** Opens the targets' sealed secrets (S3 secret key, Qdrant API key). */
  sealer: Sealer
  /** Every call to Qdrant and S3 goes through it. */
  outbound: OutboundPolicy
  /** BACKUP_COMMANDS_FILE, built once by the composition root. */
  commands: BackupCommands
  scheduler?: Scheduler
  now?: () => number
  /** After a live restore swapped the database file: caches of the old one are dropped here. */
  onRestored?: () => void
  /** Told the ids of backups that started or finished (the live feed: the backups page refreshes). */
  changed?: (backupIds: string[]) => void
}

/** A restore request waits this long for its second admin. */
export const APPROVAL_TTL_MS = hours(1)
/** `*.partial` files older than this are swept whoever left them (a key's own are removed with its backup). */
const STALE_PARTIALS_MS = hours(6)

export type Actor = { id: string; name: string }

export function createBackups(deps: BackupsDeps) {
  const { db, config, log } = deps
  const now = clockOf(deps)
  let encryption: Promise<BackupEncryption> | undefined
  const ctx: SnapshotContext = {
    db,
    config,
    log,
    alerts: deps.alerts,
    encryption: () => (encryption ??= parseBackupEncryption(config.BACKUP_ENCRYPTION)),
    now,
    sealer: deps.sealer,
    outbound: deps.outbound,
    commands: deps.commands,
  }
  const running = new Map<string, Promise<Backup>>()
  let restoring = false

  async function getBackup(id: string): Promise<Backup> {
    const [row] = await db.select().from(backups).where(eq(backups.id, id))
    if (!row) throw notFound('Backup')
    return row
  }

  /** Starts a backup of a target; `done` settles when it is good or failed. */
  async function trigger(targetIdOrName: string, opts: { trigger: Trigger; actor: string }) {
    if (restoring) throw conflict('A restore is under way; try again when it has finished')
    const target = await getTarget(db, targetIdOrName)
    if (running.has(target.id)) throw conflict(`A backup of ${target.name} is already running`)
    await failAbandoned(now())
    const started = isStoreTarget(target)
      ? await startStoreBackup(ctx, target, opts)
      : await startBackup(ctx, target, opts)
    deps.changed?.([started.row.id])
    const done = started.done.finally(() => running.delete(target.id))
    running.set(target.id, done)
    done.then(
      (b) => deps.changed?.([b.id]),
      () => deps.changed?.([started.row.id]),
    )
    return { row: started.row, done }
  }

  /** Verifies a stored backup again; one that no longer verifies becomes failed and raises the alert. */
  async function verify(id: string, actor: string) {
    const b = await getBackup(id)
    if (b.status !== 'good') throw conflict(`Only a good backup can be verified; this one is ${b.status}`)
    const start = now()
    const dest = await storedDestination(ctx, b)
    const problems =
      b.kind === 'homeostat'
        ? await verifyStored(ctx, dest, { ...b, manifest: databaseManifest(b.manifest) })
        : await verifyStoreCopy(dest, b)
    if (problems.length) return { backup: await fail(ctx, b, problems.join('; ')), problems }
    const [row] = await db
      .update(backups)
      .set({ verifiedAt: now(), verifyMs: now() - start })
      .where(eq(backups.id, id))
      .returning()
    await writeAudit(db, { actor, action: 'backup.verified', target: id, summary: 'verified' })
    return { backup: row!, problems }
  }

  /** Restores the latest good backup (or `backupId`) into a scratch file, verifies it and records how long it took. */
  async function runDrill(actor: Actor, backupId?: string): Promise<BackupRestore> {
    const b = backupId ? await getBackup(backupId) : await latestGood(db)
    if (!b) throw new AppError(409, 'no_backup', 'There is no good backup to drill yet')
    // A drill restores into a scratch database file: only Homeostat's own backups can be drilled
    // (a Qdrant or command restore would write into the live store).
    if (b.kind !== 'homeostat')
      throw new AppError(409, 'drill_unsupported', `Drills are for the homeostat target; ${b.id} is a ${b.kind} backup`)
    const startedAt = now()
    const id = newId(startedAt)
    let outcome: Partial<BackupRestore>
    try {
      const result = await drill(ctx, b)
      outcome = { status: 'done', durationMs: result.durationMs }
    } catch (error) {
      outcome = { status: 'failed', error: error instanceof Error ? error.message : String(error) }
    }
    const [row] = await db
      .insert(backupRestores)
      .values({
        id,
        backupId: b.id,
        kind: 'drill',
        requestedBy: actor.id,
        requestedByName: actor.name,
        createdAt: startedAt,
        startedAt,
        finishedAt: now(),
        status: 'failed',
        ...outcome,
      })
      .returning()
    await writeAudit(db, {
      actor: actor.name,
      action: 'backup.drilled',
      target: b.id,
      summary:
        outcome.status === 'done' ? `restored and verified in ${outcome.durationMs} ms` : `failed: ${outcome.error}`,
    })
    return row!
  }

  async function getRestore(id: string) {
    const [row] = await db.select().from(backupRestores).where(eq(backupRestores.id, id))
    if (row?.kind !== 'live') throw notFound('Restore request')
    return row
  }

  /** The first admin asks: a `pending` request that a second admin must approve within an hour. */
  async function requestRestore(backupId: string, by: Actor, reason: string) {
    const b = await getBackup(backupId)
    if (b.status !== 'good') throw conflict(`Only a good backup can be restored; this one is ${b.status}`)
    // Refused now rather than after the second admin: no target to restore through, no restore command.
    if (b.kind !== 'homeostat') await restoreTargetOf(ctx, b)
    const at = now()
    const [row] = await db
      .insert(backupRestores)
      .values({
        id: newId(at),
        backupId,
        kind: 'live',
        status: 'pending',
        requestedBy: by.id,
        requestedByName: by.name,
        reason,
        createdAt: at,
        expiresAt: at + APPROVAL_TTL_MS,
      })
      .returning()
    return row!
  }

  async function pendingOrThrow(id: string) {
    const row = await getRestore(id)
    if (row.status === 'pending' && row.expiresAt !== null && row.expiresAt <= now()) {
      await db.update(backupRestores).set({ status: 'expired' }).where(eq(backupRestores.id, id))
      throw conflict('This restore request has expired; ask again')
    }
    if (row.status !== 'pending') throw conflict(`This restore request is ${row.status}`)
    return row
  }

  async function rejectRestore(id: string, by: Actor) {
    await pendingOrThrow(id)
    const [row] = await db
      .update(backupRestores)
      .set({ status: 'rejected', approvedBy: by.id, approvedByName: by.name, finishedAt: now() })
      .where(and(eq(backupRestores.id, id), eq(backupRestores.status, 'pending')))
      .returning()
    if (!row) throw conflict('This restore request was decided meanwhile')
    return row
  }

  /**
   * A second admin approves, and the restore runs: the backup is read back and verified, jobs stop,
   * the database file is swapped under the running server and its connections reopened. The request
   * row is written again into the restored database (the old one is kept aside with its own copy).
   */
  async function approveRestore(id: string, by: Actor) {
    const request = await pendingOrThrow(id)
    if (request.requestedBy === by.id) throw forbidden('A second admin must approve: you asked for this restore')
    if (restoring) throw conflict('Another restore is under way')
    const [claimed] = await db
      .update(backupRestores)
      .set({ status: 'running', approvedBy: by.id, approvedByName: by.name, startedAt: now() })
      .where(and(eq(backupRestores.id, id), eq(backupRestores.status, 'pending')))
      .returning()
    if (!claimed) throw conflict('This restore request was decided meanwhile')
    const b = await getBackup(request.backupId)
    if (b.kind !== 'homeostat') return approveStoreRestore(claimed, b)
    restoring = true
    try {
      await Promise.allSettled([...running.values()])
      const result = await liveRestore(
        ctx,
        b,
        {
          pause: async () => {
            const wasRunning = deps.scheduler?.isRunning() ?? false
            await deps.scheduler?.stop()
            return () => {
              if (wasRunning) deps.scheduler?.start()
            }
          },
          reopened: () => deps.onRestored?.(),
        },
        // The bytes read back before the swap (the request row is in the database being replaced).
        restoreProgress(db, claimed.id),
      )
      const [row] = await db
        .insert(backupRestores)
        .values({ ...claimed, status: 'done', finishedAt: now(), durationMs: result.durationMs, keptAs: result.keptAs })
        .onConflictDoUpdate({
          target: backupRestores.id,
          set: { status: 'done', finishedAt: now(), durationMs: result.durationMs, keptAs: result.keptAs },
        })
        .returning()
      return { restore: row!, rowCounts: result.facts.rowCounts }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      await db
        .update(backupRestores)
        .set({ status: 'failed', error: message, finishedAt: now() })
        .where(eq(backupRestores.id, id))
      throw error
    } finally {
      restoring = false
    }
  }

  /**
   * A store backup put back into its store (Qdrant upload, the command's restore): the database is
   * not touched, so jobs go on; a backup of the same target running now is waited for first.
   */
  async function approveStoreRestore(claimed: BackupRestore, b: Backup) {
    try {
      if (b.targetId) await running.get(b.targetId)
      const result = await restoreStore(ctx, b, restoreProgress(db, claimed.id), new AbortController().signal)
      const [row] = await db
        .update(backupRestores)
        .set({ status: 'done', finishedAt: now(), durationMs: result.durationMs })
        .where(eq(backupRestores.id, claimed.id))
        .returning()
      return { restore: row!, rowCounts: undefined }
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      await db
        .update(backupRestores)
        .set({ status: 'failed', error: message, finishedAt: now() })
        .where(eq(backupRestores.id, claimed.id))
      throw error
    }
  }

  /** Starts the backups of enabled targets whose schedule came due since their last one. */
  async function runDue(at: number) {
    await failAbandoned(at)
    // The default target's clock starts at the first tick after install, not at 1970.
    await db
      .update(backupTargets)
      .set({ createdAt: at, updatedAt: at })
      .where(and(eq(backupTargets.id, 'homeostat'), eq(backupTargets.createdAt, 0)))
    const started: Promise<Backup>[] = []
    for (const target of await listTargets(db)) {
      if (!target.enabled || running.has(target.id)) continue
      const last = await lastStarted(db, target.id)
      const base = Math.max(last ?? 0, target.createdAt)
      const due = nextRun(target.schedule, base)
      if (due === null || due > at) continue
      try {
        started.push((await trigger(target.id, { trigger: 'schedule', actor: 'scheduler' })).done)
      } catch (error) {
        log.error('backup could not start', { target: target.name, error: String(error) })
      }
    }
    const results = await Promise.all(started)
    return { started: results.length, failed: results.filter((r) => r.status === 'failed').length }
  }

  /**
   * Backups whose process died mid-way (kill -9, power loss): `running` with no heartbeat for
   * ABANDONED_AFTER_MS (rows from before heartbeats: since they started). Each is marked failed with
   * the reason, never retried (the next backup is a new one), and what it left behind is removed:
   * its `*.partial` files and the stale scratch copies. Run before every backup starts, by the
   * `backups` job every minute and by the hourly maintenance.
   */
  async function failAbandoned(at: number) {
    const cutoff = at - ABANDONED_AFTER_MS
    const rows = await db
      .update(backups)
      .set({
        status: 'failed',
        error:
          'interrupted: the process making it stopped (killed, crashed or lost power) before it was verified; ' +
          'it is not retried, the next backup runs as usual',
        finishedAt: at,
        phase: null,
      })
      .where(
        and(eq(backups.status, 'running'), sql`coalesce(${backups.heartbeatAt}, ${backups.startedAt}) < ${cutoff}`),
      )
      .returning({ id: backups.id, location: backups.location, destinationKind: backups.destinationKind })
    if (!rows.length) return rows
    log.warn('backups interrupted by a stopped process marked failed', { backups: rows.map((r) => r.id) })
    for (const r of rows) if (r.destinationKind === 'local') await removePartialsOf(backupDir(config), r.location)
    await removeStaleScratch(scratchDir(config), ABANDONED_AFTER_MS, at)
    deps.changed?.(rows.map((r) => r.id))
    return rows
  }

  /**
   * Prunes per target (files removed, rows kept as `pruned`), fails backups whose process died
   * mid-way, removes their partial files, and raises `backup_missed` for overdue targets.
   */
  async function maintain(at: number) {
    const abandoned = (await failAbandoned(at)).length
    const partials = await removeStalePartials(backupDir(config), STALE_PARTIALS_MS, at)
    let pruned = 0
    let missed = 0
    for (const target of await listTargets(db)) {
      pruned += await pruneTarget(ctx, target)
      if (await isMissed(db, target, at)) {
        missed++
        const good = await latestGood(db, target.id)
        await raiseBackupMissed(deps.alerts, { target: target.name, lastGoodAt: good?.startedAt ?? null }, at)
      }
    }
    await db
      .update(backupRestores)
      .set({ status: 'expired' })
      .where(and(eq(backupRestores.status, 'pending'), lt(backupRestores.expiresAt, at)))
    return { pruned, abandoned, partialsRemoved: partials, missed }
  }

  /** The status panel: last good, next due, sizes, retention, restore estimate, per target. */
  async function status() {
    const at = now()
    const targets = await listTargets(db)
    const sizes = await db
      .select({
        targetId: backups.targetId,
        bytes: sql<number>`coalesce(sum(${backups.size}), 0)`,
        n: sql<number>`count(*)`,
      })
      .from(backups)
      .where(eq(backups.status, 'good'))
      .groupBy(backups.targetId)
    const [lastDrill] = await db
      .select()
      .from(backupRestores)
      .where(and(eq(backupRestores.kind, 'drill'), eq(backupRestores.status, 'done')))
      .orderBy(desc(backupRestores.createdAt))
      .limit(1)
    const perTarget = []
    for (const t of targets) {
      const good = await latestGood(db, t.id)
      const last = await lastStarted(db, t.id)
      const size = sizes.find((s) => s.targetId === t.id)
      perTarget.push({
        target: t,
        lastGood: good ?? null,
        nextDue: t.enabled ? nextRun(t.schedule, Math.max(last ?? 0, t.createdAt || at)) : null,
        storedBytes: Number(size?.bytes ?? 0),
        goodCount: Number(size?.n ?? 0),
        running: running.has(t.id),
        missed: await isMissed(db, t, at),
      })
    }
    const enc = await ctx.encryption()
    return { targets: perTarget, lastDrill: lastDrill ?? null, encryption: enc.mode, restoring }
  }

  /** Waits for the backups running in this process (shutdown). */
  const settle = async () => {
    await Promise.allSettled([...running.values()])
  }

  return {
    trigger,
    verify,
    getBackup,
    getRestore,
    requestRestore,
    approveRestore,
    rejectRestore,
    runDrill,
    runDue,
    maintain,
    status,
    settle,
    ctx,
  }
}

export type BackupsService = ReturnType<typeof createBackups>
