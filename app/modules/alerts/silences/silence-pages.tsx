/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import type { Alert } from '../../../../db/schema/alerts.ts'
import type { Silence } from '../../../../db/schema/notify.ts'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { badRequest } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { parsePreviewForm, parseSilenceForm } from '../form.ts'
import { regexProblem } from '../../../lib/matchers.ts'
import { IdParam } from '../schema.ts'
import type { AlertsService } from '../service.ts'
import { NO_END, type SilenceWindows } from './silence-windows.ts'
import { SeverityPill, StatePill, Tabs } from '../views.tsx'
import { clockOf } from '../../../lib/time.ts'

const FormBody = v.record(v.string(), v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')))
const PreviewForm = v.object({
  matchers: v.pipe(
    v.string('must be text'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(5000, 'must be at most 5000 characters'),
  ),
})
/** The public title of a silence shown as maintenance on the status pages. */
const PublicForm = v.object({
  title: v.pipe(
    v.string('must be a string'),
    v.trim(),
    v.minLength(1, 'must not be empty'),
    v.maxLength(200, 'must be at most 200 characters'),
  ),
})
const PageQuery = v.object({
  matchers: v.optional(v.pipe(v.string(), v.maxLength(5000))),
  comment: v.optional(v.pipe(v.string(), v.maxLength(1000))),
  from: v.optional(v.pipe(v.string(), v.maxLength(100))),
})
const describeMatchers = (s: Pick<Silence, 'matchers'>) =>
  s.matchers.map((m) => `${m.label}${m.op}"${m.value}"`).join(', ')

function SilenceRow({
  s,
  now,
  write,
  admin,
  windows,
}: {
  s: Silence
  now: number
  write: boolean
  admin: boolean
  windows: SilenceWindows
}) {
  const state = windows.silenceState(s, now)
  const next = s.cron && state !== 'expired' ? windows.nextWindow(s, now) : null
  return (
    <tr data-silence={s.id} data-state={state}>
      <td>
        <span class={`pill si-${state}`}>{state}</span>
      </td>
      <td>
        {s.matchers.map((m) => (
          <code class="lbl">{`${m.label}${m.op}"${m.value}"`}</code>
        ))}
      </td>
      <td class="nowrap">
        {s.cron ? (
          <span>
            every <code>{s.cron}</code>
            {s.timezone ? ` (${s.timezone})` : ''} for {Math.round((s.durationMs ?? 0) / 60_000)} min
            {next ? (
              <>
                <br />
                <span class="muted">next {when(next.startsAt)}</span>
              </>
            ) : null}
          </span>
        ) : (
          <span>
            {when(s.startsAt)}
            <br />→ {s.endsAt >= NO_END ? 'no end' : when(s.expiredAt ?? s.endsAt)}
          </span>
        )}
      </td>
      <td>
        {s.comment}
        <br />
        <span class="muted">{s.createdBy}</span>
        {s.publicTitle !== null ? (
          <>
            <br />
            <span class="badge">public: {s.publicTitle}</span>
          </>
        ) : null}
        {admin && state !== 'expired' ? (
          // Shown as maintenance on the status pages (title and window only); an admin's act.
          s.publicTitle === null ? (
            <form class="inline" hx-post={`/alerts/silences/${s.id}/public`} hx-swap="none">
              <input name="title" aria-label="Public maintenance title" placeholder="Public title" maxlength={200} />
              <button type="submit" class="small secondary">
                Show on status pages
              </button>
            </form>
          ) : (
            <button class="small secondary" hx-post={`/alerts/silences/${s.id}/private`} hx-swap="none">
              Off status pages
            </button>
          )
        ) : null}
      </td>
      <td>
        {write && state !== 'expired' ? (
          <button
            class="small secondary"
            hx-post={`/alerts/silences/${s.id}/expire`}
            hx-confirm="Expire this silence now?"
            hx-swap="none"
          >
            Expire
          </button>
        ) : null}
      </td>
    </tr>
  )
}

const PreviewList = ({ items }: { items: Alert[] }) =>
  items.length === 0 ? (
    <p class="muted" data-preview-count="0">
      No open alert matches.
    </p>
  ) : (
    <ul class="plain" data-preview-count={String(items.length)}>
      {items.map((a) => (
        <li>
          <SeverityPill severity={a.severity} /> <a href={`/alerts/${a.id}`}>{a.title}</a>{' '}
          <StatePill status={a.status} silenced={a.silenced} />
        </li>
      ))}
    </ul>
  )

export function silencePages(deps: ModuleDeps & { alerts: AlertsService; onPublicSilenceChange?: () => void }) {
  const { db, alerts: service } = deps
  const { silences } = service
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const apply = (at: number) =>
    service
      .refreshSilenced(at)
      .catch((error) =>
        deps.log.error('applying silences failed', { error: String((error as Error)?.message ?? error) }),
      )

  app.get('/alerts/silences', access('viewer'), validate('query', PageQuery), async (c) => {
    const at = now()
    const q = c.req.valid('query')
    const write = canWrite(c)
    const admin = isAdmin(c)
    const { items } = await silences.list({ limit: 200 }, at)
    let preview: Alert[] | null = null
    if (q.matchers) {
      try {
        const matchers = parsePreviewForm({ matchers: q.matchers })
        if (matchers.length && matchers.every((m) => (m.op === '=~' || m.op === '!~' ? !regexProblem(m.value) : true)))
          preview = await silences.openAlertsMatching(matchers, 50)
      } catch {
        preview = null // a hand-edited link: the form shows the text, the preview waits for typing
      }
    }
    const groups = (['active', 'pending', 'expired'] as const).map((state) => ({
      state,
      rows: items.filter((s) => silences.windows.silenceState(s, at) === state),
    }))
    return c.html(
      <Layout title="Silences" active="/alerts" principal={requirePrincipal(c)}>
        <Tabs active="/alerts/silences" />
        <div class="page-head">
          <h1>Silences</h1>
        </div>
        <p class="muted">
          A silence mutes the alerts its matchers select: they are still recorded and shown, but not notified. When it
          ends on a still-firing alert, that alert is notified then.
        </p>
        {write ? (
          <section class="card" id="new-silence">
            <h2>New silence{q.from ? ' for an alert' : ''}</h2>
            <form class="comp-form" hx-post="/alerts/silences" hx-swap="none">
              <label>
                Matchers{' '}
                <span class="muted">
                  (one per line or separated by commas: <code>label="value"</code>, <code>!=</code>, <code>=~</code> or{' '}
                  <code>!~</code>; regexes are RE2, anchored)
                </span>
                <textarea
                  name="matchers"
                  rows={4}
                  required
                  hx-post="/alerts/silences/preview"
                  hx-trigger="input changed delay:400ms[this.value.trim() !== '']"
                  hx-target="#silence-preview"
                  hx-swap="innerHTML"
                >
                  {q.matchers ?? ''}
                </textarea>
              </label>
              <div class="row">
                <label>
                  Duration{' '}
                  <select name="duration">
                    {['30m', '1h', '2h', '4h', '8h', '1d', '7d'].map((d) => (
                      <option value={d} selected={d === '2h'}>
                        {d}
                      </option>
                    ))}
                  </select>
                </label>
                <label>
                  or until (UTC) <input type="datetime-local" name="endsAt" />
                </label>
              </div>
              <details>
                <summary>Recurring maintenance window</summary>
                <p class="muted">
                  Give a{' '}
                  <a href="https://croner.56k.guru/usage/pattern/" rel="noreferrer noopener">
                    cron pattern
                  </a>
                  : the silence then holds for the duration above from each time it fires (from now on, or until the end
                  time if given).
                </p>
                <div class="row">
                  <label>
                    Cron <input name="cron" placeholder="0 2 * * 6" />
                  </label>
                  <label>
                    Time zone <input name="timezone" placeholder="UTC, or e.g. Europe/Berlin" />
                  </label>
                </div>
              </details>
              <label>
                Comment <input name="comment" value={q.comment ?? ''} maxlength={1000} />
              </label>
              <button type="submit">Create silence</button>
            </form>
            <h3>Open alerts it would silence</h3>
            <div id="silence-preview">
              {preview ? (
                <PreviewList items={preview} />
              ) : (
                <p class="muted">Type matchers to see which open alerts they select.</p>
              )}
            </div>
          </section>
        ) : null}
        {groups.map(({ state, rows }) => (
          <section class="card" id={`silences-${state}`}>
            <h2>
              {state[0]!.toUpperCase() + state.slice(1)} ({rows.length})
            </h2>
            {rows.length === 0 ? (
              <Empty>None.</Empty>
            ) : (
              <table class="table">
                <thead>
                  <tr>
                    <th>State</th>
                    <th>Matchers</th>
                    <th>When</th>
                    <th>Comment</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  {rows.map((s) => (
                    <SilenceRow s={s} now={at} write={write} admin={admin} windows={silences.windows} />
                  ))}
                </tbody>
              </table>
            )}
          </section>
        ))}
      </Layout>,
    )
  })

  // A fragment: which open alerts the typed matchers select (writes nothing).
  app.post('/alerts/silences/preview', access('operator'), validate('form', PreviewForm), async (c) => {
    const matchers = parsePreviewForm(c.req.valid('form'))
    if (!matchers.length)
      throw badRequest('Invalid matchers', [{ field: 'matchers', message: 'must name at least one matcher' }])
    const problems = matchers.flatMap((m, i) => {
      const p = m.op === '=~' || m.op === '!~' ? regexProblem(m.value) : undefined
      return p ? [{ field: `matchers.${i}.value`, message: p }] : []
    })
    if (problems.length) throw badRequest('Invalid matchers', problems)
    return c.html(<PreviewList items={await silences.openAlertsMatching(matchers, 50)} />)
  })

  app.post('/alerts/silences', access('operator'), validate('form', FormBody), async (c) => {
    const at = now()
    const row = await silences.create(parseSilenceForm(c.req.valid('form')), actor(c), at)
    await audit(db, c, { action: 'silence.created', target: row.id, summary: describeMatchers(row) })
    await apply(at)
    return hxRedirect(c, '/alerts/silences')
  })

  app.post('/alerts/silences/:id/expire', access('operator'), validate('param', IdParam), async (c) => {
    const at = now()
    const row = await silences.expire(c.req.valid('param').id, at)
    await audit(db, c, { action: 'silence.expired', target: row.id, summary: describeMatchers(row) })
    await apply(at)
    if (row.publicTitle !== null) deps.onPublicSilenceChange?.()
    return hxRedirect(c, '/alerts/silences')
  })

  app.post(
    '/alerts/silences/:id/public',
    access('admin'),
    validate('param', IdParam),
    validate('form', PublicForm),
    async (c) => {
      const { title } = c.req.valid('form')
      const row = await silences.setPublic(c.req.valid('param').id, title)
      await audit(db, c, { action: 'silence.published', target: row.id, summary: `maintenance "${title}"` })
      deps.onPublicSilenceChange?.()
      return hxRedirect(c, '/alerts/silences')
    },
  )

  app.post('/alerts/silences/:id/private', access('admin'), validate('param', IdParam), async (c) => {
    const row = await silences.setPublic(c.req.valid('param').id, null)
    await audit(db, c, { action: 'silence.unpublished', target: row.id, summary: describeMatchers(row) })
    deps.onPublicSilenceChange?.()
    return hxRedirect(c, '/alerts/silences')
  })

  return app
}
