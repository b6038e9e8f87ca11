import * as v from 'valibot'
import type { LabelMatcher } from '../../../db/schema/alerts.ts'
import { badRequest, type ErrorDetail } from '../../lib/errors.ts'
import { parseMatchers } from '../../lib/matchers.ts'
import { issuesToDetails } from '../../lib/validate.ts'
import { RuleBody, type RuleInput, type RulePatchInput } from './schema.ts'
import { SilenceBody } from './silences/silences-routes.ts'
import type { SilenceInput } from './silences/silences.ts'

/** The dashboard forms' fields, as the browser sends them (all strings). */
export type Form = Record<string, string>

const text = (s: string | undefined) => {
  const t = (s ?? '').trim()
  return t === '' ? undefined : t
}
const num = (s: string | undefined) => {
  const t = text(s)
  if (t === undefined) return undefined
  return /^-?\d+(\.\d+)?(e-?\d+)?$/i.test(t) ? Number(t) : t // non-numbers stay text so validation names the field
}
const list = (s: string | undefined) =>
  (s ?? '')
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean)

const unquote = (s: string) => (s.length >= 2 && s.startsWith('"') && s.endsWith('"') ? s.slice(1, -1) : s)

function labelMap(raw: string | undefined, errors: ErrorDetail[]) {
  const labels: Record<string, string> = {}
  for (const line of (raw ?? '')
    .split('\n')
    .map((x) => x.trim())
    .filter(Boolean)) {
    const eq = line.indexOf('=')
    if (eq <= 0) errors.push({ field: 'labels', message: `"${line.slice(0, 50)}" is not key=value` })
    else labels[line.slice(0, eq).trim()] = unquote(line.slice(eq + 1).trim())
  }
  return labels
}

/** The kind-specific fields of the rule form (`p_<param>`), by kind; only the chosen kind's are read. */
export const kindParams: Record<string, readonly string[]> = {
  threshold: [],
  ratio: ['denominator', 'denominatorMatchers'],
  change: ['compareTo', 'baseline', 'unit'],
  absence: ['minutes'],
  anomaly: ['zScore', 'step', 'direction'],
}

function parseParams(form: Form, errors: ErrorDetail[]) {
  const p: Record<string, unknown> = {}
  for (const name of kindParams[form.kind ?? ''] ?? []) {
    const raw = form[`p_${name}`]
    if (name === 'denominatorMatchers') {
      const m = parseMatchers(raw, 'params.denominatorMatchers', errors)
      if (m.length) p[name] = m
    } else if (name === 'minutes' || name === 'zScore') p[name] = num(raw)
    else if (name === 'baseline' || name === 'step')
      p[name] = num(raw) // a duration text or milliseconds
    else p[name] = text(raw)
  }
  const out = drop(p)
  return Object.keys(out).length ? out : undefined
}

const drop = <T extends Record<string, unknown>>(o: T) =>
  Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined && !(Array.isArray(x) && x.length === 0))) as T

/** The rule form into a POST /api/v1/alert-rules body, checked by the same schema (400 naming each field). */
export function parseRuleForm(form: Form): RuleInput {
  const errors: ErrorDetail[] = []
  const labels = labelMap(form.labels, errors)
  const raw = drop({
    name: form.name ?? '',
    kind: form.kind ?? '',
    metric: form.metric ?? '',
    params: parseParams(form, errors),
    matchers: parseMatchers(form.matchers, 'matchers', errors),
    by: list(form.by),
    agg: text(form.agg),
    window: num(form.window),
    comparator: text(form.comparator),
    value: num(form.value),
    for: num(form.for),
    keepFiringFor: num(form.keepFiringFor),
    severity: text(form.severity),
    labels: Object.keys(labels).length ? labels : undefined,
    summary: text(form.summary),
    description: text(form.description),
    runbookUrl: text(form.runbookUrl),
  })
  const result = v.safeParse(RuleBody, raw)
  if (!result.success) errors.push(...issuesToDetails(result.issues))
  if (errors.length || !result.success) throw badRequest('Invalid rule', errors)
  return result.output
}

/** The silence form (matchers, duration or end, optional cron + timezone, comment) into the API's input, same checks. */
export function parseSilenceForm(form: Form): SilenceInput {
  const errors: ErrorDetail[] = []
  const matchers = parseMatchers(form.matchers, 'matchers', errors)
  const endsAt = text(form.endsAt)
  const raw = drop({
    matchers,
    duration: endsAt && !text(form.cron) ? undefined : num(form.duration),
    endsAt,
    cron: text(form.cron),
    timezone: text(form.cron) ? text(form.timezone) : undefined,
    comment: text(form.comment),
  })
  const result = v.safeParse(SilenceBody, { ...raw, matchers })
  if (!result.success) errors.push(...issuesToDetails(result.issues))
  if (errors.length || !result.success) throw badRequest('Invalid silence', errors)
  return result.output as SilenceInput
}

/** Just the matchers, for the preview (400 naming the line that is wrong). */
export function parsePreviewForm(form: Form): LabelMatcher[] {
  const errors: ErrorDetail[] = []
  const matchers = parseMatchers(form.matchers, 'matchers', errors)
  if (errors.length) throw badRequest('Invalid matchers', errors)
  return matchers
}

/**
 * The rule form as a PATCH of a saved rule: the form shows every field, so a field left empty
 * clears it (matchers, labels, params, texts, comparator and value) instead of keeping the old one.
 */
export function parseRuleEdit(form: Form): RulePatchInput {
  const input = parseRuleForm(form)
  return {
    ...input,
    matchers: input.matchers ?? [],
    by: input.by ?? [],
    labels: input.labels ?? {},
    params: input.params ?? {},
    comparator: input.comparator,
    value: input.value,
    summary: input.summary ?? '',
    description: input.description ?? '',
    runbookUrl: input.runbookUrl ?? null,
  }
}
