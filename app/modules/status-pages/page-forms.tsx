/** @jsxImportSource hono/jsx */
/**
 * The status pages' dashboard forms and what reads them back: a page's settings (its components
 * under public names), the incident form (by hand or "make public" from an alert), the CSRF field,
 * and the form parsing shared by pages.tsx's handlers.
 */
import type { Context } from 'hono'
import * as v from 'valibot'
import {
  incidentImpacts,
  incidentStatuses,
  type StatusGroup,
  type StatusPage,
} from '../../../db/schema/status-pages.ts'
import type { AppEnv } from '../../context.ts'
import { AppError } from '../../lib/errors.ts'
import { hxRedirect } from '../../lib/htmx.ts'
import { issuesToDetails } from '../../lib/validate.ts'
import { requirePrincipal } from '../../middleware/auth.ts'

export const FormFields = v.record(v.string(), v.string())
type Form = v.InferOutput<typeof FormFields>

export function parse<S extends v.GenericSchema>(schema: S, value: unknown): v.InferOutput<S> {
  const result = v.safeParse(schema, value)
  if (!result.success) throw new AppError(400, 'invalid_input', 'Invalid form', issuesToDetails(result.issues))
  return result.output
}

/** htmx follows HX-Redirect; a plain form post (no script) follows a 303. */
export const done = (c: Context<AppEnv>, to: string) =>
  c.req.header('hx-request') === 'true' ? hxRedirect(c, to) : c.redirect(to, 303)

export const CsrfField = ({ c }: { c: Context<AppEnv> }) => (
  <input type="hidden" name="_csrf" value={requirePrincipal(c).csrfToken ?? ''} />
)

/**
 * The page's groups from the settings form: a component is on the page when it has a public name
 * (`name.<id>`), under the group `group.<id>` (default "Services"). Groups keep the order they had,
 * new ones after; components keep theirs within a group, new ones after.
 */
export function groupsFromForm(form: Form, before: StatusGroup[], ids: string[]): StatusGroup[] {
  const known = before.flatMap((g) => g.components.map((c) => c.componentId))
  const order = [...known, ...ids.filter((id) => !known.includes(id))]
  const groups = new Map(before.map((g) => [g.name, [] as StatusGroup['components']]))
  for (const id of order) {
    const displayName = (form[`name.${id}`] ?? '').trim()
    if (!displayName || !ids.includes(id)) continue
    const group = (form[`group.${id}`] ?? '').trim() || 'Services'
    if (!groups.has(group)) groups.set(group, [])
    groups.get(group)!.push({ componentId: id, displayName })
  }
  return [...groups].filter(([, list]) => list.length).map(([name, list]) => ({ name, components: list }))
}

export function PageSettings({
  c,
  p,
  all,
}: {
  c: Context<AppEnv>
  p: StatusPage
  all: { id: string; name: string; kind: string }[]
}) {
  const placed = new Map(
    p.groups.flatMap((g) => g.components.map((x) => [x.componentId, { group: g.name, name: x.displayName }])),
  )
  return (
    <form
      class="stack card"
      method="post"
      action={`/status-pages/${p.id}`}
      hx-post={`/status-pages/${p.id}`}
      hx-swap="none"
    >
      <CsrfField c={c} />
      <h2>Settings</h2>
      <label>
        Slug (the address: /status/&lt;slug&gt;)
        <input name="slug" value={p.slug} required />
      </label>
      <label>
        Title
        <input name="title" value={p.title} required />
      </label>
      <label>
        Logo text
        <input name="logoText" value={p.logoText} maxlength={40} />
      </label>
      <label>
        Footer
        <input name="footer" value={p.footer} maxlength={1000} />
      </label>
      <label class="check">
        <input type="checkbox" name="published" value="on" checked={p.published} /> Published (anyone can read it)
      </label>
      <h2>Components</h2>
      <p class="muted">
        Give a component a public name to show it; only that name is shown, never its own name, labels or URL.
      </p>
      <table class="table">
        <thead>
          <tr>
            <th scope="col">Component</th>
            <th scope="col">Group</th>
            <th scope="col">Public name</th>
          </tr>
        </thead>
        <tbody>
          {all.map((x) => (
            <tr>
              <td>
                {x.name} <span class="muted">{x.kind}</span>
              </td>
              <td>
                <input name={`group.${x.id}`} value={placed.get(x.id)?.group ?? ''} aria-label={`Group of ${x.name}`} />
              </td>
              <td>
                <input
                  name={`name.${x.id}`}
                  value={placed.get(x.id)?.name ?? ''}
                  aria-label={`Public name of ${x.name}`}
                />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <button type="submit">Save</button>
    </form>
  )
}

export function IncidentForm({
  c,
  pages,
  alertId,
}: {
  c: Context<AppEnv>
  pages: { id: string; slug: string; title: string }[]
  alertId?: string
}) {
  return (
    <form class="stack card" method="post" action="/status-incidents" hx-post="/status-incidents" hx-swap="none">
      <CsrfField c={c} />
      {alertId ? <input type="hidden" name="alertId" value={alertId} /> : null}
      <label>
        Status page
        <select name="pageId">
          {pages.map((p) => (
            <option value={p.id}>
              {p.title} (/status/{p.slug})
            </option>
          ))}
        </select>
      </label>
      <label>
        Public title
        <input name="title" required maxlength={200} />
      </label>
      <label>
        What visitors are told
        <textarea name="message" required rows={3} maxlength={5000}></textarea>
      </label>
      <label>
        Status
        <select name="status">
          {incidentStatuses.map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
      </label>
      <label>
        Impact
        <select name="impact">
          {incidentImpacts.map((s) => (
            <option value={s} selected={s === 'minor'}>
              {s}
            </option>
          ))}
        </select>
      </label>
      <button type="submit">{alertId ? 'Make public' : 'Open incident'}</button>
    </form>
  )
}
