/** @jsxImportSource hono/jsx */
import { maskHeaders } from '../actions/headers.ts'
import { asc } from 'drizzle-orm'
import { Hono } from 'hono'
import * as v from 'valibot'
import { type HealingRule } from '../../../../db/schema/healing.ts'
import { channels } from '../../../../db/schema/notify.ts'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { badRequest, type ErrorDetail } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { Empty, Layout, when } from '../../../lib/layout.tsx'
import { clockOf, TimeInput } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access, canWrite, isAdmin } from '../../../middleware/access.ts'
import { requirePrincipal } from '../../../middleware/auth.ts'
import { audit } from '../../audit/index.ts'
import { matcherLines } from '../../../lib/matchers.ts'
import { listRules as listAlertRules } from '../../alerts/index.ts'
import { listN8nInstances } from '../actions/n8n-instances.ts'
import { presetPages, RuleTemplates } from './preset-pages.tsx'
import {
  checkRule,
  createRule,
  deleteRule,
  draftRule,
  getRule,
  listRules,
  setRuleEnabled,
  updateRule,
} from './rules.ts'
import { IdParam } from '../input.ts'
import { simulate } from './simulate.ts'
import { DAY, FormBody, MAX_SIMULATE_MS, one, parseHealingRuleForm, ranges, valuesOf } from './form.ts'
import { type Choices, RuleForm } from './form-view.tsx'
import type { HealingCtx } from '../types.ts'
import { dur } from '../../../lib/format.ts'
import { Json, Section, Tabs } from '../views.tsx'

type Simulation = Awaited<ReturnType<typeof simulate>>
const SimulationView = ({ s }: { s: Simulation }) => (
  <div class="test-results" data-triggers={String(s.summary.triggers)}>
    <p>
      From {s.from} to {s.to}: <strong data-sim-triggers>{s.summary.triggers}</strong> triggers → {s.summary.wouldRun}{' '}
      would run, {s.summary.wouldAwaitApproval} would wait for approval, {s.summary.skippedCooldown} skipped by
      cooldown, {s.summary.skippedCap} by the hourly cap, {s.summary.wouldFail} would fail.
    </p>
    {s.results.length ? (
      <div class="table-wrap">
        <table class="table" id="simulation-results">
          <thead>
            <tr>
              <th>At</th>
              <th>Trigger</th>
              <th>Outcome</th>
              <th>Action</th>
            </tr>
          </thead>
          <tbody>
            {(
              s.results as {
                at: string
                trigger: { summary: string }
                outcome: string
                action: { type: string; target: string; params: unknown }
              }[]
            ).map((r) => (
              <tr data-outcome={r.outcome}>
                <td class="nowrap">{when(Date.parse(r.at))}</td>
                <td class="small">{r.trigger.summary}</td>
                <td>{r.outcome}</td>
                <td>
                  <code>{r.action.type}</code> on <code>{r.action.target}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    ) : (
      <p class="muted">Nothing would have triggered in this range.</p>
    )}
    {s.truncated ? <p class="muted">Only the first {s.results.length} are listed.</p> : null}
  </div>
)

const triggerText = (r: HealingRule) => {
  const t = r.trigger
  if (t.type === 'breaker') return `breaker key ~ /${t.keyPattern}/ opens`
  if (t.type === 'alert')
    return `alert fires${t.ruleId ? ` (rule ${t.ruleId})` : ''}${t.matchers?.length ? ` matching ${matcherLines(t.matchers).replaceAll('\n', ', ')}` : ''}`
  return `${t.agg}(${t.metric}) over ${dur(t.windowMs)} ${t.comparator} ${t.value}${t.targetLabel ? ` per ${t.targetLabel}` : ''}`
}

/** Healing rules: list with enable/disable and delete, create and edit forms, and simulate. */
export function rulePages(deps: ModuleDeps, hd: HealingCtx) {
  const { db } = deps
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const choices = async (): Promise<Choices> => ({
    alertRules: (await listAlertRules(db, { limit: 500 })).items.map((r) => ({ id: r.id, name: r.name })),
    channels: await db
      .select({ id: channels.id, name: channels.name, type: channels.type })
      .from(channels)
      .orderBy(asc(channels.name))
      .limit(200),
  })

  app.route('/', presetPages(deps, hd))

  app.get('/healing/rules', access('viewer'), async (c) => {
    const write = canWrite(c)
    const { items } = await listRules(db, { limit: 500 })
    return c.html(
      <Layout title="Healing rules" active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/rules" admin={isAdmin(c)} />
        <div class="page-head">
          <h1>Healing rules</h1>
        </div>
        {items.length === 0 ? (
          <Empty>No healing rules yet.{write ? ' Create one below.' : ''}</Empty>
        ) : (
          <div class="table-wrap">
            <table class="table" id="rules">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Trigger</th>
                  <th>Action</th>
                  <th>Mode</th>
                  <th class="wide">Limits</th>
                  <th>Enabled</th>
                  {write ? <th></th> : null}
                </tr>
              </thead>
              <tbody>
                {items.map((r) => (
                  <tr id={`rule-${r.id}`} data-rule={r.name} data-enabled={String(r.enabled)}>
                    <td>
                      <a href={`/healing/rules/${r.id}`}>{r.name}</a>
                      {r.description ? (
                        <>
                          <br />
                          <span class="muted small">{r.description}</span>
                        </>
                      ) : null}
                    </td>
                    <td class="small">{triggerText(r)}</td>
                    <td>
                      <code>{r.actionType}</code> on <code>{r.target}</code>
                    </td>
                    <td>
                      {r.mode === 'requires_approval' ? <span class="pill st-pending">approval</span> : 'automated'}
                    </td>
                    <td class="wide small">
                      cooldown {dur(r.cooldownMs) || '0'} · ≤ {r.maxPerHour}/h · priority {r.priority}
                      {r.verification.type !== 'none' ? ` · verify ${r.verification.type}` : ''}
                    </td>
                    <td>{r.enabled ? 'yes' : <span class="muted">no</span>}</td>
                    {write ? (
                      <td class="nowrap">
                        <button
                          class="small secondary"
                          hx-post={`/healing/rules/${r.id}/${r.enabled ? 'disable' : 'enable'}`}
                          hx-swap="none"
                        >
                          {r.enabled ? 'Disable' : 'Enable'}
                        </button>{' '}
                        <button
                          class="small danger"
                          hx-post={`/healing/rules/${r.id}/delete`}
                          hx-confirm={`Delete the healing rule ${r.name}? Its actions are kept.`}
                          hx-swap="none"
                        >
                          Delete
                        </button>
                      </td>
                    ) : null}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        {write ? (
          <Section title="From a template" id="templates">
            <RuleTemplates instances={(await listN8nInstances(db)).map((i) => i.name)} />
          </Section>
        ) : null}
        <Section title={write ? 'New rule' : 'Simulate a rule'} id="new-rule">
          <RuleForm
            f={valuesOf()}
            action="/healing/rules"
            submit="Create rule"
            choices={await choices()}
            write={write}
          />
        </Section>
      </Layout>,
    )
  })

  app.post('/healing/rules', access('operator'), validate('form', FormBody), async (c) => {
    const row = await createRule(hd, parseHealingRuleForm(c.req.valid('form')), now())
    await audit(db, c, {
      action: 'healing_rule.created',
      target: row.name,
      summary: `${row.trigger.type} → ${row.actionType} on ${row.target}`,
    })
    return hxRedirect(c, `/healing/rules/${row.id}`)
  })

  app.get('/healing/rules/:id', access('viewer'), validate('param', IdParam), async (c) => {
    const r = await getRule(db, c.req.valid('param').id)
    return c.html(
      <Layout title={`Rule ${r.name}`} active="/healing" principal={requirePrincipal(c)}>
        <Tabs active="/healing/rules" admin={isAdmin(c)} />
        <p>
          <a href="/healing/rules">← Healing rules</a> · <a href={`/healing/actions?rule=${r.id}`}>its actions</a>
        </p>
        <div class="page-head">
          <h1>
            Rule {r.name} {r.enabled ? null : <span class="pill">disabled</span>}
          </h1>
        </div>
        <p class="muted">
          Created {when(r.createdAt)}, changed {when(r.updatedAt)}.
        </p>
        <RuleForm
          f={valuesOf(r)}
          action={`/healing/rules/${r.id}`}
          submit="Save rule"
          choices={await choices()}
          write={canWrite(c)}
        />
        <details>
          <summary>As JSON</summary>
          <Json
            value={{
              trigger: r.trigger,
              params: maskHeaders(r.params),
              verification: r.verification,
              notify: r.notify,
            }}
          />
        </details>
      </Layout>,
    )
  })

  app.post(
    '/healing/rules/:id',
    access('operator'),
    validate('param', IdParam),
    validate('form', FormBody),
    async (c) => {
      const before = await getRule(db, c.req.valid('param').id)
      const row = await updateRule(hd, before, parseHealingRuleForm(c.req.valid('form')), now())
      await audit(db, c, { action: 'healing_rule.updated', target: row.name, summary: 'changed from the dashboard' })
      return hxRedirect(c, `/healing/rules/${row.id}`)
    },
  )

  for (const [verb, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    app.post(`/healing/rules/:id/${verb}`, access('operator'), validate('param', IdParam), async (c) => {
      await getRule(db, c.req.valid('param').id)
      const row = await setRuleEnabled(db, c.req.valid('param').id, enabled, now())
      await audit(db, c, { action: `healing_rule.${verb}d`, target: row.name })
      // No #fragment: from /healing/rules a fragment-only change would not reload the list.
      return hxRedirect(c, '/healing/rules')
    })
  }

  app.post('/healing/rules/:id/delete', access('operator'), validate('param', IdParam), async (c) => {
    const rule = await getRule(db, c.req.valid('param').id)
    await deleteRule(db, rule.id)
    await audit(db, c, { action: 'healing_rule.deleted', target: rule.name })
    return hxRedirect(c, '/healing/rules')
  })

  // A fragment: the form's (unsaved) rule over a past range. Reads only.
  app.post('/healing/simulate', access('operator'), validate('form', FormBody), async (c) => {
    const f = c.req.valid('form')
    const at = now()
    const range = one(f, 'range') || '24h'
    const errors: ErrorDetail[] = []
    const time = (field: string) => {
      const raw = one(f, field)
      if (!raw) return undefined
      const r = v.safeParse(TimeInput, raw)
      if (!r.success || !Number.isFinite(r.output)) errors.push({ field, message: 'must be a date and time (UTC)' })
      return r.success ? r.output : undefined
    }
    if (!(range in ranges)) errors.push({ field: 'range', message: `must be one of ${Object.keys(ranges).join(', ')}` })
    const to = time('to') ?? at
    const from = time('from') ?? to - (ranges[range as keyof typeof ranges] ?? DAY)
    if (!errors.length && to <= from) errors.push({ field: 'to', message: 'must be after from' })
    if (!errors.length && to - from > MAX_SIMULATE_MS)
      errors.push({ field: 'from', message: 'the range is at most 30 days' })
    if (errors.length) throw badRequest('Invalid range', errors)
    const rule = draftRule(parseHealingRuleForm(f, { draft: true }), at, 'draft')
    await checkRule(hd, rule)
    return c.html(<SimulationView s={await simulate(hd, rule, from, to)} />)
  })

  return app
}
