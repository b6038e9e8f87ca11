/**
 * Seeds the front page bench's data straight into a Homeostat database file before its server
 * starts: SEED_FRONT_COMPONENTS components (default 1,000: most up, 3 % down, 2 % never checked),
 * each with a status history row and six series (check latency_ms, llm_latency_ms, llm_tokens_total,
 * llm_cost_usd, agent_requests_total, agent_errors_total, over 20 models), topped up with unrelated
 * series to SEED_FRONT_SERIES (default 10,000); one point per component series per hour (every 8 h for the others) over the last 48 h
 * through the real store, then the real rollups; and SEED_FRONT_ALERTS firing alerts (default 100).
 *
 *   DATABASE_URL=file:/tmp/x/homeostat.db DATA_DIR=/tmp/x node_modules/.bin/bun tests/bench/seed-front.ts
 * Prints one JSON line of figures.
 */
import { sql } from 'drizzle-orm'
import { boot } from '../../app/boot.ts'
import { moveInbox } from '../../app/modules/metrics/inbox.ts'
import { runRollups } from '../../app/modules/metrics/rollup.ts'
import { createMetricStore, type Sample } from '../../app/modules/metrics/store.ts'
import { alerts } from '../../db/schema/alerts.ts'
import { components, statusHistory } from '../../db/schema/components.ts'

const COMPONENTS = Number(process.env.SEED_FRONT_COMPONENTS ?? 1000)
const SERIES = Number(process.env.SEED_FRONT_SERIES ?? 10_000)
const ALERTS = Number(process.env.SEED_FRONT_ALERTS ?? 100)
const HOURS = 48
const HOUR = 3_600_000
const BATCH = 10_000
const severities = ['critical', 'error', 'warning', 'info'] as const

// Deterministic values (mulberry32).
let state = 0x1234567
const random = () => {
  state = (state + 0x6d2b79f5) | 0
  let t = Math.imul(state ^ (state >>> 15), 1 | state)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}

export const componentName = (i: number) => `svc-${String(i).padStart(4, '0')}`

function seriesList() {
  const out: { name: string; labels: Record<string, string> }[] = []
  for (let i = 0; i < COMPONENTS; i++) {
    const component = componentName(i)
    const model = `model-${i % 20}`
    out.push(
      { name: 'latency_ms', labels: { component } },
      { name: 'llm_latency_ms', labels: { component, model } },
      { name: 'llm_tokens_total', labels: { component, model, kind: 'prompt' } },
      { name: 'llm_cost_usd', labels: { component, model } },
      { name: 'agent_requests_total', labels: { component } },
      { name: 'agent_errors_total', labels: { component } },
    )
  }
  for (let i = out.length; i < SERIES; i++) out.push({ name: 'node_load', labels: { instance: `host-${i}` } })
  return out
}

function valueOf(name: string) {
  if (name === 'agent_requests_total') return Math.floor(random() * 200)
  if (name === 'agent_errors_total') return Math.floor(random() * 5)
  if (name === 'llm_tokens_total') return Math.floor(random() * 50_000)
  if (name === 'llm_cost_usd') return Math.round(random() * 1e4) / 1e4
  if (name.endsWith('latency_ms')) return Math.round(50 + 2000 * -Math.log(1 - random() * 0.999))
  return Math.round(random() * 1e4) / 100
}

async function main() {
  const { db, client } = await boot(process.env, { quiet: true })
  const now = Date.now()
  const t0 = performance.now()
  const comps = Array.from({ length: COMPONENTS }, (_, i) => {
    const status = i % 33 === 0 ? 'down' : i % 50 === 1 ? 'unknown' : 'up'
    return {
      id: `cmp-${String(i).padStart(5, '0')}`,
      name: componentName(i),
      kind: 'service' as const,
      checkType: 'push' as const,
      expectedIntervalSeconds: 300,
      graceSeconds: 60,
      nextCheckAt: now + 300_000,
      status: status as 'up' | 'down' | 'unknown',
      statusSince: now - 6 * HOUR,
      lastCheckAt: status === 'unknown' ? null : now - 60_000,
      lastMessage: status === 'down' ? 'missed heartbeat' : null,
      createdAt: now - 3 * 86_400_000,
      updatedAt: now,
    }
  })
  for (let i = 0; i < comps.length; i += 200) await db.insert(components).values(comps.slice(i, i + 200))
  const history = comps
    .filter((c) => c.status !== 'unknown')
    .map((c) => ({
      componentId: c.id,
      ts: now - 60_000,
      up: c.status === 'up',
      source: 'push' as const,
      prevTs: now - 2 * HOUR,
      prevUp: true,
      heldMs: 2 * HOUR - 60_000,
    }))
  for (let i = 0; i < history.length; i += 200) await db.insert(statusHistory).values(history.slice(i, i + 200))

  const store = createMetricStore(db, { maxSeriesPerMetric: 1_000_000 })
  const meta = seriesList()
  const start = now - HOURS * HOUR - 2 * 60_000
  let written = 0
  let batch: Sample[] = []
  const flush = async () => {
    if (!batch.length) return
    await store.write(batch, batch[0]!.ts + 59_000)
    written += batch.length
    batch = []
    if (written % (10 * BATCH) === 0) await moveInbox(db)
  }
  for (let h = 0; h < HOURS; h++)
    for (const [i, m] of meta.entries()) {
      // The unrelated series only need to exist (the page must not read them): a point every 8 hours.
      if (m.name === 'node_load' && h % 8) continue
      batch.push({ name: m.name, labels: m.labels, value: valueOf(m.name), ts: start + h * HOUR + (i % 3000) * 1000 })
      if (batch.length >= BATCH) await flush()
    }
  await flush()
  while ((await moveInbox(db)) > 0);
  await db.run(sql`update series set last_seen_at = ${now}`)
  const writeSeconds = (performance.now() - t0) / 1000
  const t1 = performance.now()
  for (;;) {
    const r = await runRollups(db, now)
    if (r.steps === 0 && r.rebuilt === 0) break
  }
  const rollupSeconds = (performance.now() - t1) / 1000

  const rows = Array.from({ length: ALERTS }, (_, i) => ({
    id: `alert-${String(i).padStart(4, '0')}`,
    fingerprint: `fp-${i}`,
    source: 'api',
    title: `${componentName(i * 7)} is slow`,
    status: 'firing' as const,
    severity: severities[i % severities.length]!,
    labels: { component: componentName(i * 7), alertname: 'slow' },
    annotations: {},
    startsAt: now - (i + 1) * 60_000,
    activeAt: now - (i + 1) * 60_000,
    lastSeenAt: now,
    repeatCount: 1,
    createdAt: now - (i + 1) * 60_000,
    updatedAt: now,
  }))
  for (let i = 0; i < rows.length; i += 100) await db.insert(alerts).values(rows.slice(i, i + 100))
  await client.execute('PRAGMA wal_checkpoint(TRUNCATE)')
  console.log(
    JSON.stringify({
      components: COMPONENTS,
      series: meta.length,
      points: written,
      alerts: ALERTS,
      writeSeconds: Number(writeSeconds.toFixed(1)),
      rollupSeconds: Number(rollupSeconds.toFixed(1)),
    }),
  )
  client.close()
}

await main()
