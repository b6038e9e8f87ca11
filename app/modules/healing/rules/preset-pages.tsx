/** @jsxImportSource hono/jsx */
import { Hono } from 'hono'
import * as v from 'valibot'
import type { AppEnv, ModuleDeps } from '../../../context.ts'
import { notFound } from '../../../lib/errors.ts'
import { hxRedirect } from '../../../lib/htmx.ts'
import { clockOf } from '../../../lib/time.ts'
import { validate } from '../../../lib/validate.ts'
import { access } from '../../../middleware/access.ts'
import { audit } from '../../audit/index.ts'
import { IdParam } from '../input.ts'
import type { HealingCtx } from '../types.ts'
import { count, createFromPreset, RULE_PRESETS, rulePreset } from './presets.ts'

/** The form's fields; an empty number keeps the template's default. */
const blankOr = (max: number) =>
  v.optional(v.union([v.literal(''), count(max)], `must be a whole number from 1 to ${max}`))
const PresetForm = v.object({
  target: v.optional(v.pipe(v.string(), v.maxLength(200, 'must be at most 200 characters'))),
  name: v.optional(v.pipe(v.string(), v.maxLength(200, 'must be at most 200 characters'))),
  maxPerExecution: blankOr(10),
  maxPerWorkflowPerHour: blankOr(1000),
})

/** One click per template on the rules page (operators); `instances` are the n8n instances' names. */
export const RuleTemplates = ({ instances }: { instances: string[] }) => (
  <div id="rule-templates">
    {RULE_PRESETS.map((p) => (
      <form class="comp-form" hx-post={`/healing/rule-templates/${p.id}`} hx-swap="none" data-template={p.id}>
        <p>
          <strong>{p.name}</strong>
          <br />
          <span class="muted small">{p.describe}</span>
        </p>
        {p.id === 'prompt-performance-drop' ? (
          <div class="row">
            <label>
              Prompt <input name="target" placeholder="every prompt" />
            </label>
            <label>
              Rule name <input name="name" placeholder={p.name} />
            </label>
            <button type="submit">Add this rule</button>
          </div>
        ) : instances.length ? (
          <div class="row">
            <label>
              n8n instance{' '}
              <select name="target" required>
                {instances.map((n) => (
                  <option value={n}>{n}</option>
                ))}
              </select>
            </label>
            <label>
              Rule name <input name="name" placeholder={`${p.name} (instance)`} />
            </label>
            <label>
              Retries per execution <input name="maxPerExecution" inputmode="numeric" placeholder="3" />
            </label>
            <label>
              Per workflow an hour <input name="maxPerWorkflowPerHour" inputmode="numeric" placeholder="10" />
            </label>
            <button type="submit">Add this rule</button>
          </div>
        ) : (
          <p class="muted small">
            Add an n8n instance first (<a href="/healing/n8n">n8n instances</a>).
          </p>
        )}
      </form>
    ))}
  </div>
)

/** The form behind each template: the same rule and audit row as the API's `POST /api/v1/healing/rule-templates/:id`. */
export function presetPages(deps: ModuleDeps, hd: HealingCtx) {
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  app.post(
    '/healing/rule-templates/:id',
    access('operator'),
    validate('param', IdParam),
    validate('form', PresetForm),
    async (c) => {
      const preset = rulePreset(c.req.valid('param').id)
      if (!preset) throw notFound('Rule template')
      const f = c.req.valid('form')
      const input = {
        ...(f.target?.trim() ? { target: f.target.trim() } : {}),
        ...(f.name?.trim() ? { name: f.name.trim() } : {}),
        ...(f.maxPerExecution ? { maxPerExecution: f.maxPerExecution } : {}),
        ...(f.maxPerWorkflowPerHour ? { maxPerWorkflowPerHour: f.maxPerWorkflowPerHour } : {}),
      }
      const row = await createFromPreset(hd, preset, input, now())
      await audit(deps.db, c, {
        action: 'healing_rule.created',
        target: row.name,
        summary: `from template ${preset.id}: ${row.actionType} on ${row.target}`,
      })
      return hxRedirect(c, `/healing/rules/${row.id}`)
    },
  )
  return app
}
