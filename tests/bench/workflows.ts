/**
 * The bench's workflow history figures (`BENCH_ONLY=workflows`), on a Homeostat of its own (Bun,
 * empty DB) and the n8n stand-in (tests/helpers/fake-n8n.ts, in this process, on loopback) holding
 * WF_COUNT workflows (default 500) of 8 nodes each:
 *
 * - First pull (POST /api/v1/n8n/pull): time, calls made to n8n, versions stored (one per workflow).
 * - Second pull with nothing changed: time, calls, versions stored (must be 0).
 * - Third pull after 10 workflows changed (one parameter each) and 10 were only moved on the canvas:
 *   versions stored (must be 10), calls (one history read per changed inactive workflow).
 * - The baseline, in the same run: the same list pages read straight from the stand-in with fetch,
 *   one after the other with no spacing (what the pull's I/O alone costs).
 * The pull spaces its calls at WORKFLOW_PULL_MAX_RPS (default 5 a second) on purpose, so its time is
 * mostly that spacing; the figure that matters for an instance's load is the number of calls.
 *
 * Returns table rows and what failed to run; asserts nothing.
 */
import { join } from 'node:path'
import { startFakeN8n } from '../helpers/fake-n8n.ts'
import { BUN, runCommand, startHomeostat } from './lib.ts'

const COUNT = Number(process.env.WF_COUNT ?? 500)
const KEY = 'bench-n8n-key'
type Env = Record<string, string>

const nodesOf = (i: number) =>
  Array.from({ length: 8 }, (_, n) => ({
    id: `w${i}-n${n}`,
    name: n === 0 ? 'Webhook' : `Step ${n}`,
    type: n === 0 ? 'n8n-nodes-base.webhook' : 'n8n-nodes-base.httpRequest',
    typeVersion: 4,
    position: [n * 220, 0],
    parameters:
      n === 0
        ? { path: `hook-${i}`, httpMethod: 'POST' }
        : { url: `https://api.example.com/${i}/${n}`, method: 'POST', options: { timeout: 10_000 } },
  }))
const connectionsOf = () =>
  Object.fromEntries(
    Array.from({ length: 7 }, (_, n) => [
      n === 0 ? 'Webhook' : `Step ${n}`,
      { main: [[{ node: `Step ${n + 1}`, type: 'main', index: 0 }]] },
    ]),
  )

export async function workflowFigures(
  dir: string,
  base: Env,
  log: (line: string) => void,
): Promise<{ rows: string[][]; failed: string[] }> {
  const failed: string[] = []
  const rows: string[][] = []
  log(`workflows: pull of ${COUNT} workflows from the n8n stand-in`)
  const n8n = await startFakeN8n({ apiKey: KEY })
  for (let i = 0; i < COUNT; i++)
    n8n.addWorkflow(`w${i}`, `Workflow ${i}`, i % 2 === 0, { nodes: nodesOf(i), connections: connectionsOf() })
  const env = { ...base, DATA_DIR: join(dir, 'workflows'), DATABASE_URL: `file:${join(dir, 'workflows', 'h.db')}` }
  const server = await startHomeostat('homeostat-workflows', env)
  try {
    const key = runCommand(BUN, ['app/cli.ts', 'keys', 'create', '--name', 'bench', '--role', 'admin'], env)
    const headers = { Authorization: `Bearer ${key}`, 'Content-Type': 'application/json' }
    const added = await fetch(`${server.url}/api/v1/healing/n8n-instances`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ name: 'bench', baseUrl: n8n.url, apiKey: KEY }),
    })
    if (added.status !== 201) throw new Error(`adding the instance: ${added.status} ${await added.text()}`)
    const pull = async () => {
      const t0 = performance.now()
      const res = await fetch(`${server.url}/api/v1/n8n/pull`, { method: 'POST', headers, body: '{}' })
      const ms = performance.now() - t0
      const body = (await res.json()) as { items: { created: number; calls: number; error?: string }[] }
      if (res.status !== 200 || body.items[0]?.error) throw new Error(`pull: ${res.status} ${JSON.stringify(body)}`)
      return { ms, ...body.items[0]! }
    }
    const first = await pull()
    const second = await pull()
    for (let i = 0; i < 10; i++) {
      n8n.editWorkflow(`w${i * 7}`, (w) => void ((w.nodes[1]!.parameters as { url: string }).url += '?v=2'))
      n8n.editWorkflow(`w${i * 7 + 1}`, (w) => void (w.nodes[2]!.position = [999, 999]))
    }
    const third = await pull()

    // The baseline: the same pages, fetched back to back.
    const t0 = performance.now()
    let cursor: string | null = null
    let pages = 0
    do {
      const q = new URLSearchParams({ limit: '100', excludePinnedData: 'true', ...(cursor ? { cursor } : {}) })
      const page = (await (
        await fetch(`${n8n.url}/api/v1/workflows?${q}`, { headers: { 'X-N8N-API-KEY': KEY } })
      ).json()) as {
        nextCursor: string | null
      }
      cursor = page.nextCursor
      pages++
    } while (cursor)
    const bare = performance.now() - t0

    const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
    rows.push([`Workflow pull, first (${COUNT} workflows)`, s(first.ms), '—', '', ''])
    rows.push([
      '  calls to n8n / versions stored',
      `${first.calls} / ${first.created}`,
      `${pages} / ${COUNT}`,
      '',
      first.calls === pages && first.created === COUNT ? 'pass' : 'MISS',
    ])
    rows.push(['Workflow pull, nothing changed', s(second.ms), '—', '', ''])
    rows.push([
      '  calls / versions stored',
      `${second.calls} / ${second.created}`,
      `${pages} / 0`,
      '',
      second.created === 0 ? 'pass' : 'MISS',
    ])
    rows.push(['Workflow pull, 10 changed + 10 moved', s(third.ms), '—', '', ''])
    rows.push([
      '  calls / versions stored',
      `${third.calls} / ${third.created}`,
      `≤ ${pages + 10} / 10`,
      '',
      third.created === 10 ? 'pass' : 'MISS',
    ])
    rows.push([`  bare fetch of the same ${pages} pages`, s(bare), '—', `${(second.ms / bare).toFixed(1)}×`, ''])
    log(`  first ${s(first.ms)}, unchanged ${s(second.ms)}, changed ${s(third.ms)}, bare pages ${s(bare)}`)
  } catch (error) {
    failed.push(`workflows: ${error instanceof Error ? error.message : String(error)}`)
  } finally {
    await server.stop()
    await n8n.close()
  }
  return { rows, failed }
}
