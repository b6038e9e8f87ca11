import type { Context } from 'hono'
import { boot, fullCollection, runtimeName } from './boot.ts'
import { ensureFirstAdmin } from './modules/auth/index.ts'
import { convertLegacyPoints, convertTextSketches, packMinuteRows, startInboxMover } from './modules/metrics/index.ts'
import { createRoot } from './root.ts'

type Served = { stop: () => Promise<void>; remoteAddress: (c: Context) => string | undefined }
type Fetch = (req: Request, ...rest: unknown[]) => Response | Promise<Response>

declare const Bun: {
  serve(o: { port: number; hostname: string; fetch: Fetch }): {
    port: number
    stop(closeActive?: boolean): Promise<void>
    requestIP(r: Request): { address: string } | null
  }
}
declare const Deno: {
  serve(
    o: { port: number; hostname: string; onListen?: () => void },
    h: Fetch,
  ): { finished: Promise<void>; shutdown(): Promise<void> }
}

/** Bun (npm start), Deno (npm run start:deno) or Node: same app, the runtime's own server. */
async function serve(fetch: Fetch, port: number, hostname: string): Promise<Served> {
  const runtime = runtimeName()
  if (runtime === 'bun') {
    const server = Bun.serve({ port, hostname, fetch })
    return {
      stop: () => server.stop(false),
      remoteAddress: (c) => (c.env as typeof server | undefined)?.requestIP(c.req.raw)?.address,
    }
  }
  if (runtime === 'deno') {
    // Deno 2.9's shutdown() makes the bodies of in-flight requests unreadable (denoland/deno#36809),
    // so drain first: new requests get 503, running ones finish, then the listener closes.
    let inFlight = 0
    let draining = false
    const counted: Fetch = async (req, ...rest) => {
      if (draining) {
        const error = {
          code: 'shutting_down',
          message: 'The server is shutting down; retry shortly',
          details: null,
          requestId: null,
        }
        return Response.json({ error }, { status: 503, headers: { Connection: 'close', 'Retry-After': '5' } })
      }
      inFlight++
      try {
        return await fetch(req, ...rest)
      } finally {
        inFlight--
      }
    }
    const server = Deno.serve({ port, hostname, onListen: () => {} }, counted)
    const stop = async () => {
      draining = true
      const deadline = Date.now() + 30_000
      while (inFlight > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
      await server.shutdown()
    }
    return {
      stop,
      remoteAddress: (c) => (c.env as { remoteAddr?: { hostname?: string } } | undefined)?.remoteAddr?.hostname,
    }
  }
  const { serve: nodeServe } = await import('@hono/node-server')
  const server = nodeServe({ fetch, port, hostname })
  return {
    stop: () => new Promise((resolve) => server.close(() => resolve())),
    remoteAddress: (c) =>
      (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress,
  }
}

const { config, log, telemetry, sealer, db, client } = await boot(process.env)
let remote: Served['remoteAddress'] = () => undefined
const collect = fullCollection()
const { app, scheduler, services } = createRoot({
  collect,
  config,
  db,
  log,
  sealer,
  telemetry,
  remoteAddress: (c) => remote(c),
})

// Raw points stored before chunks (migration 0026) are encoded before the first request is answered.
await convertLegacyPoints(db, { log })
// Rollup sketches stored as text before migration 0028 are re-encoded in binary, likewise (ADR 0022).
await convertTextSketches(db, { log })
// 1-minute rollups stored a row a minute before migration 0030 are packed an hour a row, likewise (ADR 0030).
await packMinuteRows(db, { log })

const first = await ensureFirstAdmin(db, {
  adminEmail: config.ADMIN_EMAIL,
  adminPassword: config.ADMIN_PASSWORD,
  setupTtlMinutes: config.SETUP_TOKEN_TTL_MINUTES,
  publicUrl: config.PUBLIC_URL,
})

const served = await serve(app.fetch as Fetch, config.PORT, config.HOST)
remote = served.remoteAddress
if (config.JOBS_ENABLED) scheduler.start()
// Every instance moves new points out of the inbox (each move is one transaction; see inbox.ts).
// After each full move (catching up: a backfill, a burst) the heap is collected at once (ADR 0026).
const mover = startInboxMover(db, { intervalMs: config.METRICS_INBOX_MOVE_MS, log, afterFullMove: collect })

console.log(`Homeostat ${runtimeName()} listening on ${config.PUBLIC_URL}`)
if (first.kind === 'admin_created') console.log(`Created admin ${first.email} from ADMIN_EMAIL`)
if (first.kind === 'setup_link')
  console.log(
    `No users yet. Open this one-time setup link to create the admin (expires in ${config.SETUP_TOKEN_TTL_MINUTES} min):\n  ${first.url}`,
  )

let stopping = false
async function shutdown(signal: string) {
  if (stopping) return
  stopping = true
  log.info('shutting down', { signal })
  await served.stop() // stop accepting; in-flight requests finish
  await scheduler.stop() // wait for running job ticks
  // Healing actions run beside the ticks; give them a while to finish so they are not cut off
  // (one that is would be marked FAILED "interrupted by restart" at the next start).
  await Promise.race([services.healing.settle(), new Promise((resolve) => setTimeout(resolve, 30_000))])
  // A backup cut off here would be left `running` (failed at the next start's retention tick), so it may finish.
  await Promise.race([services.backups.settle(), new Promise((resolve) => setTimeout(resolve, 30_000))])
  await mover.stop()
  client.close()
  log.info('stopped')
  process.exit(0)
}
process.on('SIGINT', () => void shutdown('SIGINT'))
process.on('SIGTERM', () => void shutdown('SIGTERM'))
