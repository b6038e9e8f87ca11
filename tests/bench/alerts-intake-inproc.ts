/**
 * In-process intake loop (no HTTP server, no load tool): `bun tests/bench/alerts-intake-inproc.ts`.
 * Drives `app.request('POST /api/v2/alerts')` with the bench's bodies from CONC concurrent callers
 * and prints the process CPU time per alert (user + system), so a change to the intake can be
 * measured before/after without the noise of the load generator. Env: REQS (default 6000), CONC (50),
 * WORKLOAD (`bench`, default: the bench's pool in order; `random`: random order over 40 000 label sets;
 * `groups`: the same over 2 000 alert groups; see alert-workloads.ts).
 */
import { readdirSync, readFileSync } from 'node:fs'
import { testApp } from '../helpers/app.ts'
import { intakeBodies } from './alerts.ts'
import { GROUP_NAMES, RANDOM_POOL, randomBodies } from './alert-workloads.ts'

const REQS = Number(process.env.REQS ?? 6000)
const CONC = Number(process.env.CONC ?? 50)
const t = await testApp({
  INGEST_RATE_LIMIT_PER_SECOND: '1000000',
  INGEST_RATE_LIMIT_BURST: '1000000',
  RATE_LIMIT_PER_SECOND: '1000000',
})
const { headers } = await t.key('viewer', ['ingest'])
const WORKLOAD = process.env.WORKLOAD ?? 'bench'
const next =
  WORKLOAD === 'random'
    ? randomBodies(RANDOM_POOL, 20, 23)
    : WORKLOAD === 'groups'
      ? randomBodies(RANDOM_POOL, GROUP_NAMES, 23)
      : intakeBodies()
const encoder = new TextEncoder()
/**
 * A round's bodies, made and encoded before the round starts: made during it, the loop's own JSON
 * text, dates and encoding were ≈ 20 % of the main thread's samples and counted as the server's CPU
 * (ADR 0013, fifth pass). Each body is sent as made, so `random` still sends its resolves in order.
 */
const bodiesFor = (n: number): Uint8Array<ArrayBuffer>[] => Array.from({ length: n }, () => encoder.encode(next()))
const post = async (body: Uint8Array<ArrayBuffer>) => {
  // With its length, as every HTTP client sends it: a body without one is read through a stream
  // under the body limit (chunked uploads), which the bench's server never sees.
  const res = await t.app.request('/api/v2/alerts', {
    method: 'POST',
    body,
    headers: { ...headers, 'Content-Type': 'application/json', 'Content-Length': String(body.length) },
  })
  if (res.status !== 200) throw new Error(`${res.status} ${await res.text()}`)
}
/**
 * CPU ticks (user + system, 1/100 s) of each thread of this process (Linux /proc), by thread id:
 * the split between the thread that parses requests and the database's transaction thread.
 */
function threadTicks(): Map<string, { name: string; ticks: number }> {
  const out = new Map<string, { name: string; ticks: number }>()
  try {
    for (const tid of readdirSync('/proc/self/task')) {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8')
      const close = stat.lastIndexOf(')')
      const fields = stat.slice(close + 2).split(' ')
      out.set(tid, { name: stat.slice(stat.indexOf('(') + 1, close), ticks: Number(fields[11]) + Number(fields[12]) })
    }
  } catch {
    // Not Linux: the total only.
  }
  return out
}
const threadSplit = (before: Map<string, { ticks: number }>, alerts: number) =>
  [...threadTicks()]
    .map(([tid, t]) => ({ tid, name: t.name, us: ((t.ticks - (before.get(tid)?.ticks ?? 0)) * 10_000) / alerts }))
    .filter((t) => t.us >= 1)
    .sort((a, b) => b.us - a.us)
    .slice(0, 3)
    .map((t) => `${t.name}#${t.tid} ${t.us.toFixed(1)}`)
    .join(', ')

async function run(bodies: Uint8Array<ArrayBuffer>[]) {
  let i = 0
  await Promise.all(
    Array.from({ length: CONC }, async () => {
      while (i < bodies.length) await post(bodies[i++]!)
    }),
  )
}
await run(bodiesFor(Math.min(2000, REQS))) // warm-up: fills the pool of label sets
for (let round = 0; round < 3; round++) {
  const bodies = bodiesFor(REQS)
  const cpu = process.cpuUsage()
  const ticks = threadTicks()
  const t0 = performance.now()
  await run(bodies)
  const d = process.cpuUsage(cpu)
  const ms = performance.now() - t0
  console.log(
    `round ${round + 1}: ${((d.user + d.system) / (REQS * 10)).toFixed(1)} µs CPU/alert, ${Math.round((REQS * 10) / (ms / 1000))} alerts/s wall (µs CPU/alert by thread: ${threadSplit(ticks, REQS * 10)})`,
  )
}
t.close()
process.exit(0)
