/** `/api/v1/backup-targets`: CRUD of what is backed up (viewers read; admins change, as targets hold secrets). */
import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { describe } from '../../../lib/route-meta.ts'
import { clockOf } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import type { BackupCommands } from '../sources/command.ts'
import { TargetBody, TargetIdParam, TargetPatch } from './input.ts'
import { createTarget, deleteTarget, getTarget, listTargets, targetJson, updateTarget } from './store.ts'

export function targetRoutes(deps: Pick<ModuleDeps, 'db' | 'sealer' | 'now'> & { commands: BackupCommands }) {
  const { db, sealer } = deps
  const store = { db, sealer, commands: deps.commands }
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['backups']

  app.get(
    '/api/v1/backup-targets',
    access('viewer'),
    describe('List backup targets (secrets masked)', tags),
    async (c) => c.json({ items: (await listTargets(db)).map((t) => targetJson(sealer, t)) }),
  )

  app.post(
    '/api/v1/backup-targets',
    access('admin'),
    describe(
      'Create a backup target: homeostat, qdrant or command; local or s3 destination; schedule; retention',
      tags,
      201,
    ),
    validate('json', TargetBody),
    async (c) => {
      const row = await createTarget(store, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'backup_target.created',
        target: row.name,
        summary: `${row.kind} → ${row.destinationKind}`,
      })
      return c.json(targetJson(sealer, row), 201)
    },
  )

  app.get(
    '/api/v1/backup-targets/:id',
    access('viewer'),
    describe('A backup target (secrets masked)', tags),
    validate('param', TargetIdParam),
    async (c) => c.json(targetJson(sealer, await getTarget(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/backup-targets/:id',
    access('admin'),
    describe('Change a backup target; secrets left out are kept', tags),
    validate('param', TargetIdParam),
    validate('json', TargetPatch),
    async (c) => {
      const before = await getTarget(db, c.req.valid('param').id)
      const row = await updateTarget(store, before, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'backup_target.updated',
        target: row.name,
        summary: `changed ${Object.keys(c.req.valid('json')).join(', ') || 'nothing'}`,
      })
      return c.json(targetJson(sealer, row))
    },
  )

  app.delete(
    '/api/v1/backup-targets/:id',
    access('admin'),
    describe('Delete a backup target (its backups stay listed, and their files stay stored)', tags, 204),
    validate('param', TargetIdParam),
    async (c) => {
      const target = await getTarget(db, c.req.valid('param').id)
      await deleteTarget(db, target)
      await audit(db, c, { action: 'backup_target.deleted', target: target.name })
      return c.body(null, 204)
    },
  )

  return app
}
