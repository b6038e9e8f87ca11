/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import { breakerStates } from '../../../../db/schema/healing.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { notFound } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import type { HealingCtx } from '../types.ts'
import { BreakerState, Tabs } from '../views.tsx'
import { listBreakers } from './breakers.ts'
import { BreakerKey } from './routes.ts'
import { clockOf } from '../../../lib/time.ts'

const ResetForm = v.object({ key: BreakerKey })
const BreakerQuery = v.object({
  state: v.optional(v.picklist(['', ...breakerStates], `must be one of ${breakerStates.join(', ')}`)),
  prefix: v.optional(v.pipe(v.string(), v.maxLength(300, 'must be at most 300 characters'))),
})

/** The circuit breakers page (list, filter by state or key prefix) and the reset button's form post. */
export function breakerPages(deps: ModuleDeps & { healing: HealingCtx }) {
  const { db } = deps
  const hd = deps.healing
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  app.get('/healing/breakers', access('viewer'), validate('query', BreakerQuery), async (c) => {
    const q = c.req.valid('query')
    const { items, next } = await listBreakers(db, {
      limit: 500,
      state: q.state || undefined,
      prefix: q.prefix || undefined,
    })
    return c.html(
      <Layout title="Circuit breakers" active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/breakers" admin={isAdmin(c)} />
        <div class="page-head">
          <h1>Circuit breakers</h1>
        </div>
        <p class="muted">
          One per component or model route target, fed by checks, probes and{' '}
          <code>POST /api/v1/healing/breakers/:key/report</code>. A breaker opens at ≥ 50% failures of its last calls
          (or several failures in a row), lets a probe through after a backoff that doubles, and closes after successes.
        </p>
        <form class="filters" method="get" action="/healing/breakers">
          <label>
            State{' '}
            <select name="state">
              {['', ...breakerStates].map((s) => (
                <option value={s} selected={s === (q.state ?? '')}>
                  {s || 'any'}
                </option>
              ))}
            </select>
          </label>
          <label>
            Key prefix <input name="prefix" value={q.prefix ?? ''} placeholder="model:" />
          </label>
          <button type="submit">Filter</button>
        </form>
        {items.length ? (
          <BreakerTable items={items} write={canWrite(c)} />
        ) : (
          <Empty>
            No breakers{q.state || q.prefix ? ' match' : ' yet: they appear with the first reported outcome'}.
          </Empty>
        )}
        {next ? <p class="muted">Showing the first {items.length}; narrow by prefix to see the rest.</p> : null}
      </Layout>,
    )
  })

  app.post('/healing/breakers/reset', access('operator'), validate('form', ResetForm), async (c) => {
    const { key } = c.req.valid('form')
    const b = await hd.breakers.reset(key, { actor: actor(c), now: now() })
    if (!b) throw notFound('Breaker')
    hd.modelRoutes.invalidate()
    await audit(db, c, { action: 'breaker.reset', target: key })
    return hxRedirect(
      c,
      c.req.header('hx-current-url') && new URL(c.req.header('hx-current-url')!).pathname === '/healing'
        ? '/healing'
        : '/healing/breakers',
    )
  })

  return app
}

type BreakerRow = Awaited<ReturnType<typeof listBreakers>>['items'][number]
export function BreakerTable({ items, write }: { items: BreakerRow[]; write: boolean }) {
  return (
    <div class="table-wrap">
      <table class="table" id="breaker-table">
        <thead>
          <tr>
            <th>Key</th>
            <th>State</th>
            <th>Window</th>
            <th class="wide">Last error</th>
            <th>Opened</th>
            <th>Next probe</th>
            {write ? <th></th> : null}
          </tr>
        </thead>
        <tbody>
          {items.map((b) => {
            const failures = b.window.filter((x) => x === 0).length
            return (
              <tr data-breaker={b.key} data-state={b.state}>
                <td>
                  <code>{b.key}</code>
                </td>
                <td>
                  <BreakerState state={b.state} />
                </td>
                <td>
                  {failures}/{b.window.length} failed
                </td>
                <td class="wide small">{b.state !== 'CLOSED' ? (b.lastError ?? '') : ''}</td>
                <td class="nowrap">{b.state === 'CLOSED' ? '—' : when(b.openedAt)}</td>
                <td class="nowrap">{b.state === 'OPEN' ? when(b.retryAt) : '—'}</td>
                {write ? (
                  <td>
                    {b.state !== 'CLOSED' ? (
                      <button
                        class="small secondary"
                        hx-post="/healing/breakers/reset"
                        hx-vals={JSON.stringify({ key: b.key })}
                        hx-confirm={`Close the breaker ${b.key} by hand?`}
                        hx-swap="none"
                      >
                        Reset
                      </button>
                    ) : null}
                  </td>
                ) : null}
              </tr>
            )
          })}
        </tbody>
      </table>
    </div>
  )
}
