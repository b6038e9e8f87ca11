/**
 * "Missed schedule → alert delivered" (part of `BENCH_ONLY=n8n`), in real time on a Homeostat of its
 * own (Bun, empty DB, jobs on, `N8N_POLL_CRON` every 5 s) and the n8n stand-in (tests/helpers/fake-n8n.ts,
 * on loopback) holding N8N_MISSED_WORKFLOWS (20) active workflows, each a Schedule Trigger firing once a
 * minute at its own second (cron `<s> * * * * *`, staggered 3 s apart), whose runs stop after the
 * one just before the bench starts. A webhook channel points at a receiver on 127.0.0.1.
 *
 * Per workflow: from the end of its grace window (the expected run + grace, both read from the
 * delivered alert's summary, as the poll wrote them) to the `fired` webhook for its
 * `n8n_schedule_missed` arriving. Target: p95 of (arrival − expected run) ≤ grace + 15 s, i.e. the
 * p95 lag past the grace window ≤ 15 s. Takes about 2–3 minutes (the grace window is at least 60 s).
 */
import { join } from 'node:path'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { startReceiver } from '../helpers/receiver.ts'
import { BUN, runCommand, sleep, startHomeostat } from './lib.ts'

const WORKFLOWS = Number(process.env.N8N_MISSED_WORKFLOWS ?? 20)
const KEY = 'bench-n8n-missed-key'
const TARGET_LAG_MS = 15_000
type Env = Record<string, string>
type Alert = { labels?: Record<string, string>; annotations?: Record<string, string> }

const nodesFor = (second: number) => [
  {
    id: 's',
    name: 'Schedule',
    type: 'n8n-nodes-base.scheduleTrigger',
    typeVersion: 1.2,
    position: [0, 0],
    parameters: { rule: { interval: [{ field: 'cronExpression', expression: `${second} * * * * *` }] } },
  },
  { id: 'n', name: 'Nothing', type: 'n8n-nodes-base.noOp', typeVersion: 1, position: [220, 0], parameters: {} },
]

/** The expected run and grace the poll wrote into the alert: "No execution since <iso>, … grace <n> s)". */
function deadlineOf(a: Alert): number | null {
  const m = a.annotations?.summary?.match(/since (\S+), when one was expected .*grace (\d+) s\)/)
  return m ? Date.parse(m[1]!) + Number(m[2]) * 1000 : null
}

const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.max(0, Math.ceil(xs.length * 0.95) - 1)]!

export async function missedScheduleFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const rows: string[][] = []
  const failed: string[] = []
  log(
    `n8n: missed schedule → alert delivered, ${WORKFLOWS} workflows whose once-a-minute runs stop (real time, ~3 min)`,
  )
  const n8n = await startFakeN8n({ apiKey: KEY })
  const receiver = await startReceiver()
  const start = Date.now()
  for (let i = 0; i < WORKFLOWS; i++) {
    const second = (i * 3) % 60
    n8n.addWorkflow(`m${i}`, `Missed ${i}`, true, { nodes: nodesFor(second), settings: { timezone: 'UTC' } })
    // Its last run: the fire just before the bench starts; none after it.
    const minute = Math.floor(start / 60_000) * 60_000
    const last = minute + second * 1000 <= start ? minute + second * 1000 : minute - 60_000 + second * 1000
    n8n.addExecution(String(i + 1), 'success', `m${i}`, {
      startedAt: new Date(last).toISOString(),
      stoppedAt: new Date(last + 200).toISOString(),
    })
  }
  const env = {
    ...base,
    DATA_DIR: join(dir, 'n8n-missed'),
    DATABASE_URL: `file:${join(dir, 'n8n-missed', 'h.db')}`,
    JOBS_ENABLED: 'true',
    N8N_POLL_CRON: '*/5 * * * * *',
    N8N_DEFAULT_TIMEZONE: 'UTC',
  }
  const server = await startHomeostat('homeostat-n8n-missed', env)
  try {
    const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench', '--role', 'admin'], env)
    const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }
    const post = async (path: string, body: unknown) => {
      const res = await fetch(`${server.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) })
      if (res.status !== 201) throw new Error(`POST ${path}: ${res.status} ${await res.text()}`)
    }
    await post('/api/v1/channels', {
      name: 'bench webhook',
      type: 'webhook',
      settings: { url: `${receiver.url}/hook` },
    })
    await post('/api/v1/healing/n8n-instances', { name: 'bench', baseUrl: n8n.url, apiKey: KEY })

    /** workflow id → when its `fired` webhook arrived and the grace window's end it reports. */
    const seen = new Map<string, { arrived: number; deadline: number | null }>()
    let read = 0
    const until = Date.now() + 240_000
    while (seen.size < WORKFLOWS && Date.now() < until) {
      for (; read < receiver.requests.length; read++) {
        const body = receiver.requests[read]!.json as { event?: string; alerts?: Alert[] } | null
        if (body?.event !== 'fired') continue
        for (const a of body.alerts ?? []) {
          const id = a.labels?.workflow_id
          if (a.labels?.alertname !== 'n8n_schedule_missed' || !id || seen.has(id)) continue
          seen.set(id, { arrived: Date.now(), deadline: deadlineOf(a) })
        }
      }
      await sleep(20)
    }
    if (seen.size < WORKFLOWS)
      throw new Error(`only ${seen.size} of ${WORKFLOWS} missed-schedule alerts arrived in 4 min`)
    const lags = [...seen.values()].map((s) => {
      if (s.deadline === null) throw new Error('a missed-schedule alert without its expected run and grace')
      return s.arrived - s.deadline
    })
    const worst = p95(lags)
    const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`
    rows.push([
      `n8n missed schedule → alert delivered (${WORKFLOWS} workflows, poll every 5 s): p95 past grace`,
      `${s(worst)} (max ${s(Math.max(...lags))})`,
      '≤ grace + 15 s',
      '',
      worst <= TARGET_LAG_MS ? 'pass' : 'MISS',
    ])
    log(
      `  missed schedule: p95 ${s(worst)} past the grace window, min ${s(Math.min(...lags))}, max ${s(Math.max(...lags))}`,
    )
  } catch (error) {
    failed.push(`n8n missed schedule: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await server.stop()
    await n8n.close()
    await receiver.close()
  }
  return { rows, failed }
}
