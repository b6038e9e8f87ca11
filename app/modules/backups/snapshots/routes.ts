/**
 * The JSON API of backups: list, trigger, status, manifest, download, verify, drill, and the
 * two-admin restore (`POST /api/v1/backups/:id/restore` asks, a second admin approves at
 * `/api/v1/backup-restores/:id/approve`). Viewers read, operators trigger and verify, admins
 * download and restore.
 */
import { Hono } from 'hono'
import type { Context } from 'hono'
import { type AppEnv, actor } from '../../../context.ts'
import { AppError, unauthorized } from '../../../lib/errors.ts'
import { describe } from '../../../lib/route-meta.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import { storedDestination } from './context.ts'
import { BackupIdParam, BackupListQuery, DrillBody, RestoreBody, RestoreListQuery, TriggerBody } from './input.ts'
import { backupJson, restoreJson } from './json.ts'
import { listBackups, listRestores } from './queries.ts'
import { manifestKey } from './run.ts'
import type { BackupsService } from './service.ts'
import { statusJson } from './status.ts'

/** Who acts, as the approval compares them: a user (any of their sessions) or one API key. */
export function actingAs(c: Context<AppEnv>) {
  const p = c.get('principal')
  if (!p) throw unauthorized()
  return { id: p.userId ? `user:${p.userId}` : `${p.kind}:${p.id}`, name: actor(c) }
}

/** The audit summary of a finished restore: the database's keeps the old file aside, a store's goes back into its store. */
export const restoredSummary = (id: string, r: { requestedByName: string; keptAs: string | null }) =>
  `request ${id} by ${r.requestedByName}; ${r.keptAs ? `old database kept as ${r.keptAs}` : 'put back into its store'}`

export function snapshotRoutes(deps: { backups: BackupsService }) {
  const { backups } = deps
  const { db } = backups.ctx
  const app = new Hono<AppEnv>()
  const tags = ['backups']

  app.get(
    '/api/v1/backups',
    access('viewer'),
    describe('List backups, newest first (filters: target, status, from, to; cursor paging)', tags),
    validate('query', BackupListQuery),
    async (c) => {
      const { items, next } = await listBackups(db, c.req.valid('query'))
      return c.json({ items: items.map(backupJson), next })
    },
  )

  app.post(
    '/api/v1/backups',
    access('operator'),
    describe(
      'Start a backup of a target (default homeostat): 202 while it runs, 201 once verified with wait',
      tags,
      202,
    ),
    validate('json', TriggerBody),
    async (c) => {
      const body = c.req.valid('json')
      const { row, done } = await backups.trigger(body.target ?? 'homeostat', { trigger: 'manual', actor: actor(c) })
      await audit(db, c, { action: 'backup.triggered', target: row.id, summary: row.targetName })
      if (!body.wait) return c.json(backupJson(row), 202)
      const finished = await done
      return c.json(backupJson(finished), finished.status === 'good' ? 201 : 500)
    },
  )

  app.get(
    '/api/v1/backups/status',
    access('viewer'),
    describe('Backup status: last good, next due, size, retention, restore estimate (from the last drill)', tags),
    async (c) => c.json(statusJson(await backups.status())),
  )

  app.post(
    '/api/v1/backups/drill',
    access('operator'),
    describe('Restore drill: the latest good backup restored into a scratch file and verified, timed', tags),
    validate('json', DrillBody),
    async (c) => {
      const row = await backups.runDrill(actingAs(c), c.req.valid('json').backupId)
      return c.json(restoreJson(row), row.status === 'done' ? 200 : 422)
    },
  )

  app.get(
    '/api/v1/backups/:id',
    access('viewer'),
    describe('A backup with its manifest', tags),
    validate('param', BackupIdParam),
    async (c) => {
      const b = await backups.getBackup(c.req.valid('param').id)
      return c.json({ ...backupJson(b), manifest: b.manifest })
    },
  )

  app.get(
    '/api/v1/backups/:id/download',
    access('admin'),
    describe('Download a backup as stored (gzip, age-encrypted when BACKUP_ENCRYPTION is set)', tags),
    validate('param', BackupIdParam),
    async (c) => {
      const b = await backups.getBackup(c.req.valid('param').id)
      if (b.status !== 'good')
        throw new AppError(409, 'conflict', `Only a good backup can be downloaded; this one is ${b.status}`)
      const dest = await storedDestination(backups.ctx, b)
      const name = b.location.split('/').pop()!
      await audit(db, c, { action: 'backup.downloaded', target: b.id, summary: name })
      const it = dest.get(b.location)[Symbol.asyncIterator]()
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          const { value, done } = await it.next()
          if (done) controller.close()
          else controller.enqueue(value)
        },
        async cancel() {
          await it.return?.()
        },
      })
      return new Response(body, {
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Disposition': `attachment; filename="${name}"`,
          ...(b.size !== null ? { 'Content-Length': String(b.size) } : {}),
          'X-Backup-Sha256': b.sha256 ?? '',
          'X-Backup-Manifest': manifestKey(b.location),
        },
      })
    },
  )

  app.post(
    '/api/v1/backups/:id/verify',
    access('operator'),
    describe('Verify a backup again: read back, decrypt, integrity check, row counts against the manifest', tags),
    validate('param', BackupIdParam),
    async (c) => {
      const { backup, problems } = await backups.verify(c.req.valid('param').id, actor(c))
      await audit(db, c, {
        action: problems.length ? 'backup.verify_failed' : 'backup.verify_requested',
        target: backup.id,
        summary: problems.length ? problems.join('; ').slice(0, 500) : 'ok',
      })
      return c.json({ ...backupJson(backup), ok: problems.length === 0, problems }, problems.length ? 422 : 200)
    },
  )

  app.post(
    '/api/v1/backups/:id/restore',
    access('admin'),
    describe('Ask to restore a backup into the running server; a second admin approves it (202, pending)', tags, 202),
    validate('param', BackupIdParam),
    validate('json', RestoreBody),
    async (c) => {
      const row = await backups.requestRestore(c.req.valid('param').id, actingAs(c), c.req.valid('json').reason)
      await audit(db, c, { action: 'backup.restore_requested', target: row.backupId, summary: `request ${row.id}` })
      return c.json({ ...restoreJson(row), approve: `/api/v1/backup-restores/${row.id}/approve` }, 202)
    },
  )

  app.get(
    '/api/v1/backup-restores',
    access('viewer'),
    describe('Restore requests and drills, newest first', tags),
    validate('query', RestoreListQuery),
    async (c) => c.json({ items: (await listRestores(db, c.req.valid('query').limit)).map(restoreJson) }),
  )

  app.post(
    '/api/v1/backup-restores/:id/approve',
    access('admin'),
    describe('Approve a restore (an admin other than the one who asked): the database is swapped and reopened', tags),
    validate('param', BackupIdParam),
    async (c) => {
      const id = c.req.valid('param').id
      const { restore, rowCounts } = await backups.approveRestore(id, actingAs(c))
      // Written after the swap: it lands in the restored database, whose history now says so.
      await audit(db, c, {
        action: 'backup.restored',
        target: restore.backupId,
        summary: restoredSummary(id, restore),
      })
      return c.json({ ...restoreJson(restore), rowCounts })
    },
  )

  app.post(
    '/api/v1/backup-restores/:id/reject',
    access('admin'),
    describe('Turn down a pending restore request', tags),
    validate('param', BackupIdParam),
    async (c) => {
      const row = await backups.rejectRestore(c.req.valid('param').id, actingAs(c))
      await audit(db, c, { action: 'backup.restore_rejected', target: row.backupId, summary: `request ${row.id}` })
      return c.json(restoreJson(row))
    },
  )

  return app
}
