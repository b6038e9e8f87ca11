import { createHash } from 'node:crypto'
import { Hono } from 'hono'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { AppError, notFound } from '../../../lib/errors.ts'
import { describe } from '../../../lib/route-meta.ts'
import { clockOf } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import {
  DiffQuery,
  LabelParam,
  ListQuery,
  MoveBody,
  NameParam,
  PromptBody,
  ReadQuery,
  RollbackBody,
  VersionBody,
  VersionParam,
  VersionsQuery,
} from './input.ts'
import { labelEventJson, promptJson, versionJson } from './json.ts'
import { scoresByVersion } from './scores.ts'
import {
  getVersion,
  labelHistory,
  labelsOf,
  listPrompts,
  listVersions,
  loadPrompt,
  type Prompts,
  type Resolved,
} from './service.ts'
import { checkDeclared, compile, lineDiff } from './template.ts'

/** Seconds an agent may reuse an answer without asking again (as model routes). */
export const PROMPT_MAX_AGE_SECONDS = 1
const DAY = 86_400_000

/** Whether an If-None-Match header matches the ETag (weak comparison, as RFC 9110 asks for GET). */
function etagMatches(header: string | undefined, etag: string) {
  if (!header) return false
  if (header.trim() === '*') return true
  return header.split(',').some((tag) => tag.trim().replace(/^W\//, '') === etag)
}

const readJson = (r: Resolved, compiled: string | null) => ({
  name: r.prompt.name,
  label: r.label,
  version: r.version.version,
  template: r.version.template,
  variables: r.version.variables,
  parameters: r.version.parameters,
  compiled,
})

/** The prompt registry's JSON API: prompts, versions, labels, diff, rollback, scores and the agents' read. */
export function promptRoutes(deps: ModuleDeps & { prompts: Prompts }) {
  const { db, prompts } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['prompts']
  // The body of a read without variables, kept with its cached answer (dropped with it).
  const plainBodies = new WeakMap<Resolved, string>()

  app.get(
    '/api/v1/prompts',
    access('viewer'),
    describe('List prompts by name, each with its labels', tags),
    validate('query', ListQuery),
    async (c) => {
      const q = c.req.valid('query')
      const { items, next } = await listPrompts(db, { limit: q.limit ?? 100, cursor: q.cursor })
      return c.json({
        items: await Promise.all(items.map(async (p) => promptJson(p, await labelsOf(db, p.id)))),
        next,
      })
    },
  )

  app.post(
    '/api/v1/prompts',
    access('operator'),
    describe('Create a prompt: name, description?', tags, 201),
    validate('json', PromptBody),
    async (c) => {
      const p = await prompts.create(c.req.valid('json'), actor(c), now())
      await audit(db, c, { action: 'prompt.created', target: p.name })
      return c.json(promptJson(p), 201)
    },
  )

  app.get(
    '/api/v1/prompts/:name',
    access('routes'),
    describe(
      'For agents: the version a label (default production) or ?version= points at, its parameters, and the template compiled with ?var.<name>=value. Strong ETag; If-None-Match gives 304. Viewers and keys with the routes scope may read it',
      tags,
    ),
    validate('param', NameParam),
    validate('query', ReadQuery),
    async (c) => {
      const { name } = c.req.valid('param')
      const q = c.req.valid('query') as Record<string, string | undefined>
      const r = await prompts.resolve(
        name,
        q.version !== undefined ? { version: Number(q.version) } : { label: q.label ?? 'production' },
        now(),
      )
      if (!r) throw notFound(q.version !== undefined ? 'Prompt version' : 'Prompt or label')
      const values: Record<string, string> = {}
      for (const [k, value] of Object.entries(q)) if (k.startsWith('var.')) values[k.slice(4)] = value!
      const given = Object.keys(values).length > 0
      // Compiled first: a missing or unknown variable is a 400 even to a caller holding the ETag.
      const out =
        given || r.version.variables.length === 0 ? compile(r.version.template, r.version.variables, values) : null
      if (out && !out.ok) throw new AppError(400, 'invalid_input', 'Invalid query', out.issues)
      const etag = given
        ? `"${r.etag.slice(1, -1)}.${createHash('sha1')
            .update(JSON.stringify(Object.entries(values).sort()))
            .digest('hex')
            .slice(0, 12)}"`
        : r.etag
      const headers = {
        ETag: etag,
        'Cache-Control': `private, max-age=${PROMPT_MAX_AGE_SECONDS}`,
        Vary: 'Authorization',
      }
      if (etagMatches(c.req.header('if-none-match'), etag)) return c.body(null, 304, headers)
      let body = given ? undefined : plainBodies.get(r)
      if (!body) {
        body = JSON.stringify(readJson(r, out?.ok ? out.text : null))
        if (!given) plainBodies.set(r, body)
      }
      return c.body(body, 200, { ...headers, 'Content-Type': 'application/json' })
    },
  )

  app.delete(
    '/api/v1/prompts/:name',
    access('operator'),
    describe('Delete a prompt with its versions, labels and history', tags, 204),
    validate('param', NameParam),
    async (c) => {
      const p = await loadPrompt(db, c.req.valid('param').name)
      await prompts.remove(p)
      await audit(db, c, { action: 'prompt.deleted', target: p.name })
      return c.body(null, 204)
    },
  )

  app.get(
    '/api/v1/prompts/:name/versions',
    access('viewer'),
    describe("A prompt's versions, newest first, each with its labels", tags),
    validate('param', NameParam),
    validate('query', VersionsQuery),
    async (c) => {
      const p = await loadPrompt(db, c.req.valid('param').name)
      const q = c.req.valid('query')
      const [page, labels] = await Promise.all([
        listVersions(db, p.id, { limit: q.limit ?? 100, cursor: q.cursor }),
        labelsOf(db, p.id),
      ])
      return c.json({ items: page.items.map((v) => versionJson(v, labels)), next: page.next })
    },
  )

  app.post(
    '/api/v1/prompts/:name/versions',
    access('operator'),
    describe(
      'Add a version {template, variables, parameters?, note?, label?}; the same content again answers the version that has it (200, not a duplicate)',
      tags,
      201,
    ),
    validate('param', NameParam),
    validate('json', VersionBody),
    async (c) => {
      const p = await loadPrompt(db, c.req.valid('param').name)
      const body = c.req.valid('json')
      const issues = checkDeclared(body.template, body.variables)
      if (issues.length) throw new AppError(400, 'invalid_input', 'Invalid body', issues)
      const by = actor(c)
      const { version, created } = await prompts.addVersion(p, body, by, now())
      if (created)
        await audit(db, c, {
          action: 'prompt.version_added',
          target: p.name,
          summary: `version ${version.version}${body.note ? `: ${body.note.slice(0, 200)}` : ''}`,
        })
      if (body.label) {
        const moved = await prompts.moveLabel(p, body.label, version.version, { actor: by, now: now() })
        if (moved)
          await audit(db, c, {
            action: 'prompt.label_moved',
            target: `${p.name}:${body.label}`,
            summary: `${moved.from ?? 'new'} → ${moved.to}`,
          })
      }
      return c.json(versionJson(version, await labelsOf(db, p.id)), created ? 201 : 200)
    },
  )

  app.get(
    '/api/v1/prompts/:name/versions/:version',
    access('viewer'),
    describe('One version of a prompt with its labels and its score over the last 24 h', tags),
    validate('param', VersionParam),
    async (c) => {
      const { name, version } = c.req.valid('param')
      const p = await loadPrompt(db, name)
      const v = await getVersion(db, p.id, version)
      if (!v) throw notFound('Prompt version')
      const at = now()
      const scores = await scoresByVersion(db, p.name, at - DAY, at + 1)
      return c.json(versionJson(v, await labelsOf(db, p.id), scores.get(v.version) ?? { avg: null, count: 0 }))
    },
  )

  app.get(
    '/api/v1/prompts/:name/labels',
    access('viewer'),
    describe("A prompt's labels (label → version) and their history, newest first", tags),
    validate('param', NameParam),
    async (c) => {
      const p = await loadPrompt(db, c.req.valid('param').name)
      const [labels, history] = await Promise.all([labelsOf(db, p.id), labelHistory(db, p.id)])
      return c.json({
        labels: Object.fromEntries(labels.map((l) => [l.label, l.version])),
        history: history.map(labelEventJson),
      })
    },
  )

  app.put(
    '/api/v1/prompts/:name/labels/:label',
    access('operator'),
    describe('Point a label at a version {version, reason?}; creates the label if new', tags),
    validate('param', LabelParam),
    validate('json', MoveBody),
    async (c) => {
      const { name, label } = c.req.valid('param')
      const body = c.req.valid('json')
      const p = await loadPrompt(db, name)
      const moved = await prompts.moveLabel(p, label, body.version, {
        actor: actor(c),
        reason: body.reason,
        now: now(),
      })
      if (moved)
        await audit(db, c, {
          action: 'prompt.label_moved',
          target: `${name}:${label}`,
          summary: `${moved.from ?? 'new'} → ${moved.to}${body.reason ? `: ${body.reason}` : ''}`,
        })
      return c.json({ label, from: moved?.from ?? body.version, to: body.version, moved: !!moved })
    },
  )

  app.post(
    '/api/v1/prompts/:name/rollback',
    access('operator'),
    describe(
      'Move a label (default production) back {label?, to?, reason?}: to the given version or the highest one below it',
      tags,
    ),
    validate('param', NameParam),
    validate('json', RollbackBody),
    async (c) => {
      const { name } = c.req.valid('param')
      const body = c.req.valid('json')
      const label = body.label ?? 'production'
      const moved = await prompts.rollback(name, label, body.to ?? 'previous', {
        actor: actor(c),
        reason: body.reason ?? 'manual rollback',
        now: now(),
      })
      if (!moved) throw new AppError(409, 'conflict', `The label ${label} already points at version ${body.to}`)
      await audit(db, c, {
        action: 'prompt.rolled_back',
        target: `${name}:${label}`,
        summary: `${moved.from} → ${moved.to}${body.reason ? `: ${body.reason}` : ''}`,
      })
      return c.json(moved)
    },
  )

  app.get(
    '/api/v1/prompts/:name/diff',
    access('viewer'),
    describe('The line diff of two versions ?from=&to= (template) and the parameters that changed', tags),
    validate('param', NameParam),
    validate('query', DiffQuery),
    async (c) => {
      const { from, to } = c.req.valid('query')
      const p = await loadPrompt(db, c.req.valid('param').name)
      const [a, b] = await Promise.all([getVersion(db, p.id, from), getVersion(db, p.id, to)])
      if (!a || !b)
        throw new AppError(404, 'not_found', 'Prompt version not found', [
          { field: a ? 'to' : 'from', message: `no version ${a ? to : from}` },
        ])
      const keys = [...new Set([...Object.keys(a.parameters), ...Object.keys(b.parameters)])].sort()
      return c.json({
        from,
        to,
        same: a.hash === b.hash,
        lines: lineDiff(a.template, b.template),
        variables: {
          added: b.variables.filter((n) => !a.variables.includes(n)),
          removed: a.variables.filter((n) => !b.variables.includes(n)),
        },
        parameters: keys
          .filter((k) => JSON.stringify(a.parameters[k]) !== JSON.stringify(b.parameters[k]))
          .map((k) => ({ key: k, from: a.parameters[k] ?? null, to: b.parameters[k] ?? null })),
      })
    },
  )

  app.get(
    '/api/v1/prompts/:name/scores',
    access('viewer'),
    describe('prompt_score{prompt,version} per version over the last 24 h: mean and count', tags),
    validate('param', NameParam),
    async (c) => {
      const p = await loadPrompt(db, c.req.valid('param').name)
      const at = now()
      const scores = await scoresByVersion(db, p.name, at - DAY, at + 1)
      return c.json({
        items: [...scores.entries()].sort((x, y) => y[0] - x[0]).map(([version, s]) => ({ version, ...s })),
      })
    },
  )

  return app
}
