/** The channel and policy forms as posted: their fields parsed into the API's bodies, named by field when wrong. */

import * as v from 'valibot'
import { channelTypes, type Channel } from '../../../db/schema/notify.ts'
import { badRequest, type ErrorDetail } from '../../lib/errors.ts'
import { parseMatchers } from '../../lib/matchers.ts'
import { issuesToDetails } from '../../lib/validate.ts'
import { ChannelBody, ChannelPatch, PolicyBody, secretFields } from './schema.ts'

export const EditQuery = v.object({ edit: v.optional(v.pipe(v.string(), v.maxLength(100))) })
export const FormBody = v.record(
  v.string(),
  v.pipe(v.string(), v.maxLength(10_000, 'must be at most 10000 characters')),
)
export const trimmed = (s: string | undefined) => (s ?? '').trim() || undefined
export const list = (s: string | undefined) =>
  (s ?? '')
    .split(/[\n,]/)
    .map((x) => x.trim())
    .filter(Boolean)
export const numOr = (s: string | undefined) => {
  const x = trimmed(s)
  return x === undefined ? undefined : /^\d+$/.test(x) ? Number(x) : x
}
export const drop = (o: Record<string, unknown>) =>
  Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined))

/** The per-type fields of the channel form. */
export const typeFields: Record<(typeof channelTypes)[number], { name: string; label: string; type?: string }[]> = {
  slack: [{ name: 'webhookUrl', label: 'Incoming webhook URL' }],
  webhook: [
    { name: 'url', label: 'URL' },
    { name: 'headers', label: 'Custom headers (Name: value per line)' },
  ],
  n8n: [{ name: 'url', label: 'Workflow webhook URL' }],
  pagerduty: [
    { name: 'routingKey', label: 'Routing key' },
    { name: 'baseUrl', label: 'Events API base URL (optional)' },
  ],
  email: [
    { name: 'host', label: 'SMTP host' },
    { name: 'port', label: 'Port' },
    { name: 'secure', label: 'TLS (true/false)' },
    { name: 'user', label: 'User' },
    { name: 'password', label: 'Password', type: 'password' },
    { name: 'from', label: 'From' },
    { name: 'to', label: 'To (comma separated)' },
  ],
}

/**
 * The per-type fields into settings. On an edit a secret field left blank is left out (the
 * service keeps its value); other fields left blank are cleared (or named, when required).
 */
export function settingsOf(type: string, form: Record<string, string>, edit: boolean) {
  const s: Record<string, unknown> = {}
  const secret = secretFields[type as keyof typeof secretFields] ?? []
  for (const f of typeFields[type as keyof typeof typeFields] ?? []) {
    const raw = trimmed(form[f.name])
    if (raw === undefined) {
      if (edit && !secret.includes(f.name)) s[f.name] = undefined
      continue
    }
    if (f.name === 'headers')
      s.headers = Object.fromEntries(
        list(raw.replaceAll(',', '\n')).map((l) => [
          l.slice(0, l.indexOf(':')).trim(),
          l.slice(l.indexOf(':') + 1).trim(),
        ]),
      )
    else if (f.name === 'port') s.port = numOr(raw)
    else if (f.name === 'secure') s.secure = raw === 'true' ? true : raw === 'false' ? false : raw
    else if (f.name === 'to') s.to = list(raw)
    else s[f.name] = raw
  }
  return s
}

export function channelInput(form: Record<string, string>) {
  const type = form.type ?? ''
  const r = v.safeParse(ChannelBody, { name: form.name ?? '', type, settings: settingsOf(type, form, false) })
  if (!r.success) throw badRequest('Invalid channel', issuesToDetails(r.issues))
  return r.output
}

export function channelPatch(type: Channel['type'], form: Record<string, string>) {
  const r = v.safeParse(ChannelPatch, {
    name: form.name ?? '',
    enabled: form.enabled === 'on',
    settings: settingsOf(type, form, true),
  })
  if (!r.success) throw badRequest('Invalid channel', issuesToDetails(r.issues))
  return r.output
}

/** Escalation rows `esc_after_<i>` + `esc_<i>_<channel id>` (+ `esc_remove_<i>`); a row with no channel ticked is a blank row. */
export const MAX_STEPS = 10
export function escalationsOf(form: Record<string, string>, channelIds: string[]) {
  const steps: { after: unknown; channelIds: string[] }[] = []
  for (let i = 0; i < MAX_STEPS + 2; i++) {
    if (form[`esc_remove_${i}`] === 'on') continue
    const ids = channelIds.filter((id) => form[`esc_${i}_${id}`] === 'on')
    if (ids.length) steps.push({ after: numOr(form[`esc_after_${i}`]) ?? '15m', channelIds: ids })
  }
  return steps
}

export function policyInput(form: Record<string, string>, channelIds: string[]) {
  const errors: ErrorDetail[] = []
  const matchers = parseMatchers(form.matchers, 'matchers', errors)
  const chosen = channelIds.filter((id) => form[`ch_${id}`] === 'on')
  const escalations = escalationsOf(form, channelIds)
  const raw = drop({
    name: form.name ?? '',
    matchers,
    channelIds: chosen,
    groupBy: list(form.groupBy),
    groupWait: numOr(form.groupWait),
    groupInterval: numOr(form.groupInterval),
    repeatInterval: numOr(form.repeatInterval),
    continue: form.continue === 'on',
    sendResolved: form.sendResolved === 'on',
    escalations,
    enabled: form.hasEnabled ? form.enabled === 'on' : undefined,
  })
  const r = v.safeParse(PolicyBody, raw)
  if (!r.success) errors.push(...issuesToDetails(r.issues))
  if (errors.length || !r.success) throw badRequest('Invalid policy', errors)
  return r.output
}
