/**
 * The bench baseline: a bare Hono app on Bun with no middleware, and a bare libSQL one-row insert.
 * `npm run bench` measures Homeostat's routes as ratios to this, run on the same machine at the same
 * time (DESIGN.md "Performance"). Later issues compare their write paths to `POST /insert`.
 *
 *   PORT=8790 DATA_DIR=/tmp/x node_modules/.bin/bun tests/bench/baseline.ts
 */
import { mkdirSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createClient } from '@libsql/client'
import { Hono } from 'hono'

type Fetch = (req: Request) => Response | Promise<Response>
declare const Bun: {
  serve(o: { port: number; hostname: string; fetch: Fetch }): {
    port: number
    stop(closeActive?: boolean): Promise<void>
  }
}

const port = Number(process.env.PORT ?? 8790)
const dir = process.env.DATA_DIR ?? mkdtempSync(join(tmpdir(), 'homeostat-baseline-'))
mkdirSync(dir, { recursive: true })

const client = createClient({ url: `file:${join(dir, 'baseline.db')}`, intMode: 'number' })
await client.execute('PRAGMA journal_mode=WAL')
await client.execute('PRAGMA busy_timeout=5000')
// The durability Homeostat runs with by default (DATABASE_SYNCHRONOUS=normal: a commit survives a
// crash of the process; the WAL is synced at checkpoints), so the ratio compares like with like.
await client.execute('PRAGMA synchronous=NORMAL')
await client.execute(
  'CREATE TABLE IF NOT EXISTS samples (id INTEGER PRIMARY KEY, name TEXT NOT NULL, value REAL NOT NULL, ts INTEGER NOT NULL)',
)

const app = new Hono()
app.get('/hello', (c) => c.text('hello'))
app.post('/insert', async (c) => {
  const { name, value, ts } = await c.req.json<{ name: string; value: number; ts: number }>()
  await client.execute({ sql: 'INSERT INTO samples (name, value, ts) VALUES (?, ?, ?)', args: [name, value, ts] })
  return c.json({ ok: true }, 201)
})

const server = Bun.serve({ port, hostname: '127.0.0.1', fetch: app.fetch })
console.log(`baseline listening on http://127.0.0.1:${server.port}`)

const stop = async () => {
  await server.stop(true)
  client.close()
  process.exit(0)
}
process.on('SIGINT', () => void stop())
process.on('SIGTERM', () => void stop())
