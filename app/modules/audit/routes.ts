import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../context.ts'
import { access } from '../../middleware/access.ts'
import { describe } from '../../lib/route-meta.ts'
import { toIso } from '../../lib/time.ts'
import { validate } from '../../lib/validate.ts'
import { AuditQuery } from './schema.ts'
import { listAudit } from './service.ts'

export function auditRoutes({ db }: ModuleDeps) {
  return new Hono<AppEnv>().get(
    '/api/v1/audit',
    access('admin'),
    describe('Audit log: who changed what, newest first (filters: actor, action or prefix*, target, from, to)', [
      'audit',
    ]),
    validate('query', AuditQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listAudit(db, { ...q, limit: q.limit ?? 100 })
      return c.json({ items: items.map((e) => ({ ...e, ts: toIso(e.ts) })), next })
    },
  )
}
