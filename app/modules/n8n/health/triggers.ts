/**
 * What a workflow's trigger says about when it should run, read from its nodes the way n8n 1.x
 * reads them. The Schedule Trigger (`n8n-nodes-base.scheduleTrigger`) turns each interval rule into
 * a cron pattern (its GenericFunctions `toCronExpression`), firing daily or weekly and skipping
 * fires itself for "every 2 days" or "every 3 weeks"; the older Cron node
 * (`n8n-nodes-base.cron`) has trigger times in modes. Both run in the workflow's time zone
 * (settings.timezone), else the instance's default. n8n adds a random second to minute, hour and
 * day rules; the patterns here fire at second 0, and the grace window covers the difference.
 */
import type { TriggerSummary } from '../../../../db/schema/n8n.ts'

type Node = { type?: unknown; disabled?: unknown; parameters?: unknown }
type Rule = TriggerSummary['rules'][number]

const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback)
const obj = (v: unknown) => (v && typeof v === 'object' ? (v as Record<string, unknown>) : {})

/** A 5-field cron gets seconds 0 in front, so every pattern here has 6 fields. */
const withSeconds = (expr: string) => {
  const fields = expr.trim().split(/\s+/)
  return fields.length === 5 ? `0 ${fields.join(' ')}` : fields.join(' ')
}

/** One interval rule of a Schedule Trigger (typeVersion 1–1.2), with n8n's defaults. */
function scheduleRule(r: Record<string, unknown>): Rule | null {
  const field = typeof r.field === 'string' ? r.field : 'days'
  const minute = num(r.triggerAtMinute, 0)
  const hour = num(r.triggerAtHour, 0)
  switch (field) {
    case 'seconds': {
      const n = num(r.secondsInterval, 30)
      return { cron: `*/${n} * * * * *`, every: 1, label: `every ${n} s` }
    }
    case 'minutes': {
      const n = num(r.minutesInterval, 5)
      return { cron: `0 */${n} * * * *`, every: 1, label: `every ${n} min` }
    }
    case 'hours': {
      const n = num(r.hoursInterval, 1)
      return {
        cron: `0 ${minute} */${n} * * *`,
        every: 1,
        label: `every ${n} h at :${String(minute).padStart(2, '0')}`,
      }
    }
    case 'days': {
      const n = num(r.daysInterval, 1)
      return { cron: `0 ${minute} ${hour} * * *`, every: n, label: `every ${n} day(s) at ${hour}:${pad(minute)}` }
    }
    case 'weeks': {
      const n = num(r.weeksInterval, 1)
      const days = Array.isArray(r.triggerAtDay) && r.triggerAtDay.length ? r.triggerAtDay.map(Number) : [0]
      return {
        cron: `0 ${minute} ${hour} * * ${days.join(',')}`,
        // Every n weeks fires on each chosen day of every n-th week: one run per chosen day per n weeks.
        every: n === 1 ? 1 : (n - 1) * days.length + 1,
        label: `every ${n} week(s) on ${days.join(',')} at ${hour}:${pad(minute)}`,
      }
    }
    case 'months': {
      const n = num(r.monthsInterval, 1)
      const day = num(r.triggerAtDayOfMonth, 1)
      return {
        cron: `0 ${minute} ${hour} ${day} */${n} *`,
        every: 1,
        label: `every ${n} month(s) on day ${day} at ${hour}:${pad(minute)}`,
      }
    }
    case 'cronExpression':
      return typeof r.expression === 'string' && r.expression.trim()
        ? { cron: withSeconds(r.expression), every: 1, label: `cron ${r.expression.trim()}` }
        : null
    default:
      return null
  }
}
const pad = (n: number) => String(n).padStart(2, '0')

/** One trigger time of the older Cron node. */
function cronNodeRule(t: Record<string, unknown>): Rule | null {
  const minute = num(t.minute, 0)
  const hour = num(t.hour, 0)
  switch (t.mode) {
    case 'everyMinute':
      return { cron: '0 * * * * *', every: 1, label: 'every minute' }
    case 'everyHour':
      return { cron: `0 ${minute} * * * *`, every: 1, label: `every hour at :${pad(minute)}` }
    case 'everyDay':
      return { cron: `0 ${minute} ${hour} * * *`, every: 1, label: `every day at ${hour}:${pad(minute)}` }
    case 'everyWeek': {
      const wd = num(t.weekday, 1)
      return { cron: `0 ${minute} ${hour} * * ${wd}`, every: 1, label: `every week on ${wd} at ${hour}:${pad(minute)}` }
    }
    case 'everyMonth': {
      const d = num(t.dayOfMonth, 1)
      return { cron: `0 ${minute} ${hour} ${d} * *`, every: 1, label: `every month on day ${d}` }
    }
    case 'everyX': {
      const n = num(t.value, 2)
      return t.unit === 'hours'
        ? { cron: `0 0 */${n} * * *`, every: 1, label: `every ${n} h` }
        : { cron: `0 */${n} * * * *`, every: 1, label: `every ${n} min` }
    }
    case 'custom':
      return typeof t.cronExpression === 'string' && t.cronExpression.trim()
        ? { cron: withSeconds(t.cronExpression), every: 1, label: `cron ${t.cronExpression.trim()}` }
        : null
    default:
      return null
  }
}

/** The trigger summary of a workflow from its nodes and settings; `defaultTimezone` is the instance's. */
export function triggerOf(nodes: unknown, settings: unknown, defaultTimezone: string): TriggerSummary {
  const list = (Array.isArray(nodes) ? nodes : []).filter((n): n is Node => !!n && typeof n === 'object')
  const enabled = list.filter((n) => n.disabled !== true)
  const tz = obj(settings).timezone
  const timezone = typeof tz === 'string' && tz && tz !== 'DEFAULT' ? tz : defaultTimezone
  const rules: Rule[] = []
  let kind: TriggerSummary['kind'] = 'none'
  for (const n of enabled) {
    const p = obj(n.parameters)
    if (n.type === 'n8n-nodes-base.scheduleTrigger') {
      kind = 'schedule'
      const intervals = obj(p.rule).interval
      // A new Schedule Trigger with nothing chosen runs daily at midnight (n8n's default rule).
      const items = Array.isArray(intervals) && intervals.length ? intervals : [{}]
      for (const r of items) {
        const rule = scheduleRule(obj(r))
        if (rule) rules.push(rule)
      }
    } else if (n.type === 'n8n-nodes-base.cron') {
      if (kind !== 'schedule') kind = 'cron'
      const items = obj(p.triggerTimes).item
      for (const t of Array.isArray(items) ? items : []) {
        const rule = cronNodeRule(obj(t))
        if (rule) rules.push(rule)
      }
    } else if (kind === 'none' && typeof n.type === 'string') {
      if (n.type === 'n8n-nodes-base.webhook' || n.type === 'n8n-nodes-base.formTrigger') kind = 'webhook'
      else if (/trigger$/i.test(n.type)) kind = 'other'
    }
  }
  return { kind, rules, timezone: rules.length ? timezone : null }
}
