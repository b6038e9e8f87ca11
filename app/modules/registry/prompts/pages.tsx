/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { AppError, badRequest, notFound } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import { clockOf } from '../../../lib/time.ts'
import { issuesToDetails, validate } from '../../../lib/validate.ts'
import { access, canWrite } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { DiffQuery, Label, NameParam, PromptBody, VersionBody } from './input.ts'
import { scoresByVersion } from './scores.ts'
import { getVersion, labelHistory, labelsOf, listPrompts, listVersions, loadPrompt, type Prompts } from './service.ts'
import { checkDeclared, type DiffLine, lineDiff, placeholders } from './template.ts'

const DAY = 86_400_000
const Text = (max: number) =>
  v.optional(v.pipe(v.string('must be text'), v.maxLength(max, `must be at most ${max} characters`)))
const CreateForm = v.object({ name: v.pipe(v.string('must be text'), v.maxLength(100)), description: Text(1000) })
const VersionForm = v.object({
  template: v.pipe(v.string('must be text'), v.maxLength(100_000)),
  parameters: Text(20_000),
  note: Text(1000),
  label: Text(50),
})
const MoveForm = v.object({
  label: v.pipe(v.string('must be text'), v.maxLength(50)),
  version: v.pipe(v.string('must be text'), v.regex(/^[1-9]\d{0,8}$/, 'must be a version number')),
})

const fmt = (x: number | null) => (x === null ? '—' : x.toFixed(3))

const Diff = ({ lines }: { lines: DiffLine[] }) => (
  <pre class="diff" id="prompt-diff">
    {lines.map((l) => (
      <div class={l.op === '+' ? 'diff-added' : l.op === '-' ? 'diff-removed' : ''}>
        {l.op} {l.text}
      </div>
    ))}
  </pre>
)

/** The prompts pages: the table, a prompt with its versions, labels, scores and diff, and the forms that change them. */
export function promptPages(deps: ModuleDeps & { prompts: Prompts }) {
  const { db, prompts } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()

  app.get('/prompts', access('viewer'), async (c) => {
    const { items } = await listPrompts(db, { limit: 500 })
    const rows = await Promise.all(items.map(async (p) => ({ p, labels: await labelsOf(db, p.id) })))
    return c.html(
      <Layout title="Prompts" active="/prompts" principal={requirePrincipal(c)}>
        <div class="page-head">
          <h1>Prompts</h1>
        </div>
        <p class="muted">
          Agents read <code>GET /api/v1/prompts/:name?label=production&amp;var.name=value</code>; a label moved here is
          what they get next.
        </p>
        {rows.length ? (
          <table id="prompts-table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Labels</th>
                <th>Description</th>
                <th>Changed</th>
              </tr>
            </thead>
            <tbody>
              {rows.map(({ p, labels }) => (
                <tr>
                  <td>
                    <a href={`/prompts/${p.name}`}>{p.name}</a>
                  </td>
                  <td>{labels.map((l) => `${l.label} → v${l.version}`).join(', ') || '—'}</td>
                  <td>{p.description}</td>
                  <td>{when(p.updatedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <Empty>No prompts yet.</Empty>
        )}
        {canWrite(c) ? (
          <section class="card">
            <h2>New prompt</h2>
            <form class="comp-form" id="prompt-form" hx-post="/prompts" hx-swap="none">
              <label>
                Name <input name="name" required placeholder="support-reply" />
              </label>
              <label>
                Description <input name="description" />
              </label>
              <button type="submit">Create prompt</button>
            </form>
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.post('/prompts', access('operator'), validate('form', CreateForm), async (c) => {
    const f = c.req.valid('form')
    const r = v.safeParse(PromptBody, { name: f.name.trim(), ...(f.description ? { description: f.description } : {}) })
    if (!r.success) throw badRequest('Invalid prompt', issuesToDetails(r.issues))
    const p = await prompts.create(r.output, actor(c), now())
    await audit(db, c, { action: 'prompt.created', target: p.name })
    return hxRedirect(c, `/prompts/${p.name}`)
  })

  app.get('/prompts/:name', access('viewer'), validate('param', NameParam), async (c) => {
    const p = await loadPrompt(db, c.req.valid('param').name)
    const at = now()
    const [{ items }, labels, history, scores] = await Promise.all([
      listVersions(db, p.id, { limit: 500 }),
      labelsOf(db, p.id),
      labelHistory(db, p.id, 50),
      scoresByVersion(db, p.name, at - DAY, at + 1),
    ])
    const write = canWrite(c)
    const latest = items[0]
    const diff = items.length > 1 ? lineDiff(items[1]!.template, items[0]!.template) : null
    return c.html(
      <Layout title={`Prompt ${p.name}`} active="/prompts" principal={requirePrincipal(c)}>
        <div class="page-head">
          <h1>{p.name}</h1>
        </div>
        <p class="muted">{p.description}</p>
        <section class="card">
          <h2>Labels</h2>
          {labels.length ? (
            <ul id="prompt-labels">
              {labels.map((l) => (
                <li data-label={l.label}>
                  <strong>{l.label}</strong> → version {l.version} <span class="muted small">by {l.updatedBy}</span>
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No labels: agents reading the production label get 404 until one points at a version.</Empty>
          )}
        </section>
        <section class="card">
          <h2>Versions</h2>
          {items.length ? (
            <table id="prompt-versions">
              <thead>
                <tr>
                  <th>Version</th>
                  <th>Labels</th>
                  <th>Score (24 h)</th>
                  <th>Author</th>
                  <th>Note</th>
                  <th>Created</th>
                  {write ? <th>Move a label here</th> : null}
                </tr>
              </thead>
              <tbody>
                {items.map((ver) => {
                  const s = scores.get(ver.version)
                  return (
                    <tr data-version={ver.version}>
                      <td>
                        <details>
                          <summary>v{ver.version}</summary>
                          <pre>{ver.template}</pre>
                          <p class="muted small">
                            variables: {ver.variables.join(', ') || 'none'} · parameters:{' '}
                            {JSON.stringify(ver.parameters)}
                          </p>
                        </details>
                      </td>
                      <td>
                        {labels
                          .filter((l) => l.version === ver.version)
                          .map((l) => l.label)
                          .join(', ')}
                      </td>
                      <td class="score">{s ? `${fmt(s.avg)} (${s.count})` : '—'}</td>
                      <td>{ver.author}</td>
                      <td>{ver.note}</td>
                      <td>{when(ver.createdAt)}</td>
                      {write ? (
                        <td>
                          {['production', 'staging'].map((label) => (
                            <button
                              type="button"
                              class="small"
                              hx-post={`/prompts/${p.name}/labels`}
                              hx-vals={JSON.stringify({ label, version: String(ver.version) })}
                              hx-confirm={`Point ${label} of ${p.name} at version ${ver.version}?`}
                              hx-swap="none"
                            >
                              {label}
                            </button>
                          ))}
                        </td>
                      ) : null}
                    </tr>
                  )
                })}
              </tbody>
            </table>
          ) : (
            <Empty>No versions yet.</Empty>
          )}
        </section>
        <section class="card">
          <h2>Diff</h2>
          <form hx-get={`/prompts/${p.name}/diff`} hx-target="#prompt-diff" hx-swap="outerHTML" class="row">
            <label>
              From <input name="from" inputmode="numeric" value={items[1] ? String(items[1].version) : ''} />
            </label>
            <label>
              To <input name="to" inputmode="numeric" value={latest ? String(latest.version) : ''} />
            </label>
            <button type="submit">Show diff</button>
          </form>
          {diff ? <Diff lines={diff} /> : <pre class="diff" id="prompt-diff"></pre>}
        </section>
        <section class="card">
          <h2>Label history</h2>
          {history.length ? (
            <ul id="prompt-history">
              {history.map((e) => (
                <li>
                  {when(e.ts)}: <strong>{e.label}</strong> {e.fromVersion ?? 'new'} → {e.toVersion} by {e.actor}
                  {e.reason ? ` (${e.reason})` : ''}
                </li>
              ))}
            </ul>
          ) : (
            <Empty>No label moves yet.</Empty>
          )}
        </section>
        {write ? (
          <section class="card">
            <h2>New version</h2>
            <form class="comp-form" id="version-form" hx-post={`/prompts/${p.name}/versions`} hx-swap="none">
              <label>
                Template (variables as <code>{'{{name}}'}</code>)
                <textarea name="template" rows={8} required>
                  {latest?.template ?? ''}
                </textarea>
              </label>
              <label>
                Parameters (JSON) <input name="parameters" value={latest ? JSON.stringify(latest.parameters) : '{}'} />
              </label>
              <label>
                Note <input name="note" />
              </label>
              <label>
                Point a label at it <input name="label" placeholder="staging" />
              </label>
              <button type="submit">Add version</button>
            </form>
          </section>
        ) : null}
      </Layout>,
    )
  })

  app.get(
    '/prompts/:name/diff',
    access('viewer'),
    validate('param', NameParam),
    validate('query', DiffQuery),
    async (c) => {
      const { from, to } = c.req.valid('query')
      const p = await loadPrompt(db, c.req.valid('param').name)
      const [a, b] = await Promise.all([getVersion(db, p.id, from), getVersion(db, p.id, to)])
      if (!a || !b) throw notFound('Prompt version')
      return c.html(<Diff lines={lineDiff(a.template, b.template)} />)
    },
  )

  app.post(
    '/prompts/:name/labels',
    access('operator'),
    validate('param', NameParam),
    validate('form', MoveForm),
    async (c) => {
      const f = c.req.valid('form')
      const label = v.safeParse(Label, f.label)
      if (!label.success) throw badRequest('Invalid label', [{ field: 'label', message: label.issues[0].message }])
      const p = await loadPrompt(db, c.req.valid('param').name)
      const moved = await prompts.moveLabel(p, label.output, Number(f.version), {
        actor: actor(c),
        reason: 'dashboard',
        now: now(),
      })
      if (moved)
        await audit(db, c, {
          action: 'prompt.label_moved',
          target: `${p.name}:${label.output}`,
          summary: `${moved.from ?? 'new'} → ${moved.to}`,
        })
      return hxRedirect(c, `/prompts/${p.name}`)
    },
  )

  app.post(
    '/prompts/:name/versions',
    access('operator'),
    validate('param', NameParam),
    validate('form', VersionForm),
    async (c) => {
      const f = c.req.valid('form')
      let parameters: unknown = {}
      if (f.parameters?.trim()) {
        try {
          parameters = JSON.parse(f.parameters)
        } catch {
          throw badRequest('Invalid version', [{ field: 'parameters', message: 'must be a JSON object' }])
        }
      }
      // The form declares what the template uses: the page has no separate list to get wrong.
      const r = v.safeParse(VersionBody, {
        template: f.template,
        variables: placeholders(f.template),
        parameters,
        ...(f.note ? { note: f.note } : {}),
        ...(f.label?.trim() ? { label: f.label.trim() } : {}),
      })
      if (!r.success) throw badRequest('Invalid version', issuesToDetails(r.issues))
      const issues = checkDeclared(r.output.template, r.output.variables)
      if (issues.length) throw new AppError(400, 'invalid_input', 'Invalid version', issues)
      const p = await loadPrompt(db, c.req.valid('param').name)
      const by = actor(c)
      const { version, created } = await prompts.addVersion(p, r.output, by, now())
      if (created)
        await audit(db, c, { action: 'prompt.version_added', target: p.name, summary: `version ${version.version}` })
      if (r.output.label) {
        const moved = await prompts.moveLabel(p, r.output.label, version.version, { actor: by, now: now() })
        if (moved)
          await audit(db, c, {
            action: 'prompt.label_moved',
            target: `${p.name}:${r.output.label}`,
            summary: `${moved.from ?? 'new'} → ${moved.to}`,
          })
      }
      return hxRedirect(c, `/prompts/${p.name}`)
    },
  )

  return app
}
