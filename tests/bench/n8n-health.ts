/**
 * The bench's workflow health figures (`BENCH_ONLY=n8n`), on a Homeostat of its own (Bun, empty
 * DB) and the n8n stand-in (tests/helpers/fake-n8n.ts, in this process, on loopback) holding
 * N8N_WORKFLOWS workflows (default 200, each on a 5-minute schedule) and N8N_EXECUTIONS executions
 * (default 10,000, spread over the last 3 days; 2 % failed with run data, as n8n 1.123 keeps it):
 *
 * - First poll (POST /api/v1/n8n/health/poll): time, n8n API requests (list pages, workflow pages,
 *   one data read per failed execution up to the per-poll budget of 100), Homeostat CPU seconds.
 * - Second poll: the failed executions past the first poll's budget of 100 data reads.
 * - Third poll with nothing new: requests (target: 1 executions page + the workflow list pages).
 * - Fourth poll after 50 new executions: requests.
 * Polls run at N8N_POLL_MAX_RPS=100 (the default 5 a second spaces calls on purpose; the figure that
 * matters for an instance's load is the number of requests). Returns table rows; asserts nothing.
 */
import { join } from 'node:path'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { BUN, cpuSeconds, findProcess, runCommand, startHomeostat } from './lib.ts'

const WORKFLOWS = Number(process.env.N8N_WORKFLOWS ?? 200)
const EXECUTIONS = Number(process.env.N8N_EXECUTIONS ?? 10_000)
const KEY = 'bench-n8n-key'
type Env = Record<string, string>

const nodes = [
  {
    id: 's',
    name: 'Schedule',
    type: 'n8n-nodes-base.scheduleTrigger',
    typeVersion: 1.2,
    position: [0, 0],
    parameters: { rule: { interval: [{ field: 'minutes', minutesInterval: 5 }] } },
  },
  {
    id: 'h',
    name: 'Call API',
    type: 'n8n-nodes-base.httpRequest',
    typeVersion: 4.2,
    position: [220, 0],
    parameters: {},
  },
]

export async function n8nHealthFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const failed: string[] = []
  const rows: string[][] = []
  log(`n8n: poll of ${WORKFLOWS} workflows with ${EXECUTIONS} executions from the n8n stand-in`)
  const n8n = await startFakeN8n({ apiKey: KEY })
  for (let i = 0; i < WORKFLOWS; i++) n8n.addWorkflow(`w${i}`, `Workflow ${i}`, true, { nodes })
  const now = Date.now()
  let id = 1
  const add = (at: number) => {
    const wf = `w${id % WORKFLOWS}`
    const fail = id % 50 === 0
    const error = { name: 'NodeApiError', httpCode: '503', message: 'Service unavailable', node: { name: 'Call API' } }
    n8n.addExecution(String(id), fail ? 'error' : 'success', wf, {
      startedAt: new Date(at).toISOString(),
      stoppedAt: new Date(at + 1500 + (id % 7) * 100).toISOString(),
      ...(fail ? { data: { resultData: { runData: { 'Call API': [{ startTime: at, error }] }, error } } } : {}),
    })
    id++
  }
  for (let i = 0; i < EXECUTIONS; i++) add(now - 3 * 86_400_000 + (i * 3 * 86_400_000) / EXECUTIONS)
  const env = {
    ...base,
    DATA_DIR: join(dir, 'n8n'),
    DATABASE_URL: `file:${join(dir, 'n8n', 'h.db')}`,
    N8N_POLL_MAX_RPS: '100',
    JOBS_ENABLED: 'false',
  }
  const server = await startHomeostat('homeostat-n8n', env)
  try {
    const pid = findProcess(server.pid, /bun/)
    const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench', '--role', 'admin'], env)
    const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }
    const added = await fetch(`${server.url}/api/v1/healing/n8n-instances`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'bench', baseUrl: n8n.url, apiKey: KEY }),
    })
    if (added.status !== 201) throw new Error(`adding the instance: ${added.status} ${await added.text()}`)
    const poll = async () => {
      const requests = n8n.requests.length
      const cpu = cpuSeconds(pid)
      const t0 = performance.now()
      const res = await fetch(`${server.url}/api/v1/n8n/health/poll`, { method: 'POST', headers, body: '{}' })
      const ms = performance.now() - t0
      const body = (await res.json()) as { items: { executions: number; calls: number; error?: string }[] }
      if (res.status !== 200 || body.items[0]?.error) throw new Error(`poll: ${res.status} ${JSON.stringify(body)}`)
      const made = n8n.requests.slice(requests)
      return {
        ms,
        cpu: cpuSeconds(pid) - cpu,
        executions: body.items[0]!.executions,
        calls: made.length,
        pages: made.filter((r) => r.path === '/api/v1/executions').length,
        workflowPages: made.filter((r) => r.path === '/api/v1/workflows').length,
      }
    }
    const first = await poll()
    // The failures past the first poll's budget of 100 data reads are read by the next one.
    const backlog = await poll()
    const second = await poll()
    for (let i = 0; i < 50; i++) add(Date.now())
    const third = await poll()
    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
    rows.push([`n8n poll, first (${WORKFLOWS} workflows, ${EXECUTIONS} executions)`, s(first.ms), '—', '', ''])
    rows.push([
      '  requests (execution pages / workflow pages / data reads)',
      `${first.calls} (${first.pages} / ${first.workflowPages} / ${first.calls - first.pages - first.workflowPages})`,
      '—',
      '',
      first.executions === EXECUTIONS ? 'pass' : 'MISS',
    ])
    rows.push(['  Homeostat CPU', `${first.cpu.toFixed(2)} s`, '—', '', ''])
    rows.push([
      'n8n poll, classifying the backlog: requests',
      `${backlog.calls} (${backlog.calls - backlog.pages - backlog.workflowPages} data reads)`,
      '—',
      '',
      '',
    ])
    rows.push([
      'n8n poll, nothing new: execution pages',
      `${second.pages} (${second.calls} requests)`,
      '≤ 1 per page',
      '',
      second.pages <= 1 && second.executions === 0 ? 'pass' : 'MISS',
    ])
    rows.push(['  time / CPU', `${s(second.ms)} / ${second.cpu.toFixed(2)} s`, '—', '', ''])
    rows.push([
      'n8n poll, 50 new: execution pages',
      `${third.pages} (${third.calls} requests)`,
      '1',
      '',
      third.executions === 50 ? 'pass' : 'MISS',
    ])
    log(
      `  first ${s(first.ms)} ${first.calls} req cpu ${first.cpu.toFixed(2)} s; nothing new ${second.calls} req; 50 new ${third.calls} req`,
    )
  } catch (error) {
    failed.push(`n8n: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await server.stop()
    await n8n.close()
  }
  return { rows, failed }
}
