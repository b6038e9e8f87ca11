/** `/api/v1/ollama-hosts`: where versions are deployed. Viewers read; operators change. The auth header is never returned. */
import { Hono } from 'hono'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { AppError } from '../../../lib/errors.ts'
import { describe } from '../../../lib/route-meta.ts'
import { clockOf } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import type { Registry } from '../service.ts'
import { HostBody, HostIdParam, HostPatch } from './input.ts'
import { createHost, deleteHost, getHost, hostHeaders, hostJson, listHosts, updateHost } from './store.ts'

export function hostRoutes(deps: Pick<ModuleDeps, 'db' | 'sealer' | 'now'> & { registry: Registry }) {
  const { db, sealer, registry } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['registry']

  app.get('/api/v1/ollama-hosts', access('viewer'), describe('List Ollama hosts', tags), async (c) =>
    c.json({ items: (await listHosts(db)).map(hostJson) }),
  )

  app.post(
    '/api/v1/ollama-hosts',
    access('operator'),
    describe('Register an Ollama host (URL, optional auth header sealed at rest)', tags, 201),
    validate('json', HostBody),
    async (c) => {
      const row = await createHost({ db, sealer }, c.req.valid('json'), now())
      await audit(db, c, {
        action: 'registry.host_created',
        target: row.name,
        summary: `${row.url}${row.authHeaderName ? ` with ${row.authHeaderName} header` : ''}`,
      })
      return c.json(hostJson(row), 201)
    },
  )

  app.get(
    '/api/v1/ollama-hosts/:id',
    access('viewer'),
    describe('One Ollama host (by id or name)', tags),
    validate('param', HostIdParam),
    async (c) => c.json(hostJson(await getHost(db, c.req.valid('param').id))),
  )

  app.patch(
    '/api/v1/ollama-hosts/:id',
    access('operator'),
    describe('Change a host’s URL or auth header (null removes it; a new URL drops the old header)', tags),
    validate('param', HostIdParam),
    validate('json', HostPatch),
    async (c) => {
      const before = await getHost(db, c.req.valid('param').id)
      const patch = c.req.valid('json')
      const row = await updateHost({ db, sealer }, before, patch, now())
      await audit(db, c, {
        action: 'registry.host_updated',
        target: row.name,
        summary: `changed ${Object.keys(patch).join(', ') || 'nothing'}`,
      })
      return c.json(hostJson(row))
    },
  )

  app.delete(
    '/api/v1/ollama-hosts/:id',
    access('operator'),
    describe('Remove a host (its deployment records go with it; nothing is deleted on the host)', tags, 204),
    validate('param', HostIdParam),
    async (c) => {
      const host = await getHost(db, c.req.valid('param').id)
      await deleteHost(db, host.id)
      await audit(db, c, { action: 'registry.host_deleted', target: host.name })
      return c.body(null, 204)
    },
  )

  app.get(
    '/api/v1/ollama-hosts/:id/tags',
    access('viewer'),
    describe('What the host has (its /api/tags), through the outbound policy', tags),
    validate('param', HostIdParam),
    async (c) => {
      const host = await getHost(db, c.req.valid('param').id)
      try {
        const models = await registry.ollama.tags({ url: host.url, headers: hostHeaders(sealer, host) })
        return c.json({ host: host.name, models })
      } catch (error) {
        throw new AppError(502, 'host_unreachable', `${host.name}: ${String((error as Error)?.message ?? error)}`)
      }
    },
  )

  return app
}
