/**
 * The global search: alerts, components, alert and healing rules, and metrics whose name or labels
 * contain the text. Every query is bounded twice: it reads at most SCAN rows of its table (the newest
 * first where a table grows without end, alerts and series) and returns at most LIMIT of them, so a
 * keystroke costs the same on a database of millions of points as on an empty one.
 */
import { sql } from 'drizzle-orm'
import type { Db } from '../../../db/client.ts'

export const LIMIT = 8
/** Rows read per growing table (alerts, series): the newest ones, where what is searched for lives. */
export const SCAN = 5_000

export type Hit = {
  kind: 'alert' | 'component' | 'alert_rule' | 'healing_rule' | 'metric'
  title: string
  url: string
  detail: string
}
export type Results = { alerts: Hit[]; components: Hit[]; rules: Hit[]; metrics: Hit[] }

/** A LIKE pattern matching `text` anywhere, its wildcards escaped (`\` is the escape character). */
export const containing = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (ch) => `\\${ch}`)}%`

/**
 * A label written `key=value` also matches the JSON the labels are stored as (`"key":"value"`); a
 * plain word matches keys and values alike.
 */
function labelPattern(q: string) {
  const eq = /^([^=\s]+)\s*=\s*(.*)$/.exec(q)
  return eq
    ? containing(`${JSON.stringify(eq[1])}:${JSON.stringify(eq[2]).slice(0, eq[2] ? -1 : undefined)}`)
    : containing(q)
}

type Row = Record<string, unknown>
const rows = async (db: Db, query: ReturnType<typeof sql>) => (await db.all(query)) as Row[]

export async function search(db: Db, q: string): Promise<Results> {
  const text = containing(q)
  const label = labelPattern(q)
  const [alerts, components, alertRules, healingRules, series] = await Promise.all([
    rows(
      db,
      sql`select id, title, status, severity from (select id, title, status, severity, labels from alerts order by id desc limit ${SCAN})
          where lower(title) like ${text} escape '\\' or lower(labels) like ${label} escape '\\' limit ${LIMIT}`,
    ),
    rows(
      db,
      sql`select id, name, kind, status from components
          where lower(name) like ${text} escape '\\' or lower(labels) like ${label} escape '\\' order by name limit ${LIMIT}`,
    ),
    rows(
      db,
      sql`select id, name, enabled from alert_rules where lower(name) like ${text} escape '\\' order by name limit ${LIMIT}`,
    ),
    rows(
      db,
      sql`select id, name, enabled from healing_rules where lower(name) like ${text} escape '\\' order by name limit ${LIMIT}`,
    ),
    rows(
      db,
      sql`select name, labels from (select name, labels from series order by id desc limit ${SCAN})
          where lower(name) like ${text} escape '\\' or lower(labels) like ${label} escape '\\' limit ${LIMIT * 8}`,
    ),
  ])
  return {
    alerts: alerts.map((a) => ({
      kind: 'alert',
      title: String(a.title),
      url: `/alerts/${encodeURIComponent(String(a.id))}`,
      detail: `${a.severity} · ${a.status}`,
    })),
    components: components.map((c) => ({
      kind: 'component',
      title: String(c.name),
      url: `/components/${encodeURIComponent(String(c.id))}`,
      detail: `${c.kind} · ${c.status}`,
    })),
    rules: [
      ...alertRules.map(
        (r): Hit => ({
          kind: 'alert_rule',
          title: String(r.name),
          url: `/alerts/rules#rule-${encodeURIComponent(String(r.id))}`,
          detail: `alert rule${r.enabled ? '' : ' · disabled'}`,
        }),
      ),
      ...healingRules.map(
        (r): Hit => ({
          kind: 'healing_rule',
          title: String(r.name),
          url: `/healing/rules/${encodeURIComponent(String(r.id))}`,
          detail: `healing rule${r.enabled ? '' : ' · disabled'}`,
        }),
      ),
    ].slice(0, LIMIT),
    metrics: metricHits(series, q),
  }
}

/** One hit per metric name; when the text named a label, the link opens the explorer on it. */
function metricHits(series: Row[], q: string): Hit[] {
  const eq = /^([^=\s]+)\s*=\s*(.+)$/.exec(q)
  const seen = new Map<string, number>()
  for (const s of series) seen.set(String(s.name), (seen.get(String(s.name)) ?? 0) + 1)
  return [...seen].slice(0, LIMIT).map(([name, n]) => {
    const params = new URLSearchParams({ name })
    if (eq) params.set(`match[${eq[1]}]`, eq[2]!)
    return { kind: 'metric', title: name, url: `/explore?${params}`, detail: `${n}${n >= LIMIT * 8 ? '+' : ''} series` }
  })
}
