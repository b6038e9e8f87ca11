/**
 * The fault suites (tests/e2e/faults-*.test.ts): a real server killed with SIGKILL in the middle of
 * a write path, started again on the same data folder, and asked (through its API, or the database
 * file read on a connection of the test's own) whether it kept its promises.
 */
import { createClient, type Client } from '@libsql/client'
import { cliKey, startServer, type RunningServer, type StartOptions } from './server.ts'

/** The test's own traffic comes from one address and a few keys: rate limits are not what is tested. */
export const NO_LIMITS = {
  LOG_LEVEL: 'warn',
  RATE_LIMIT_PER_SECOND: '100000',
  RATE_LIMIT_BURST: '100000',
  IP_RATE_LIMIT_PER_SECOND: '100000',
  IP_RATE_LIMIT_BURST: '100000',
  INGEST_RATE_LIMIT_PER_SECOND: '100000',
  INGEST_RATE_LIMIT_BURST: '100000',
}

/** A server started as `npm start` starts it, without rate limits. */
export const startFaultServer = (options: StartOptions = {}) =>
  startServer({ ...options, env: { ...NO_LIMITS, ...options.env } })

/** SIGKILL: no shutdown hook runs, nothing is flushed; resolves once the process is gone. */
export async function hardKill(server: RunningServer) {
  server.child.kill('SIGKILL')
  const exit = await server.exited
  if (exit.signal !== 'SIGKILL') throw new Error(`expected a SIGKILL exit, got ${JSON.stringify(exit)}`)
}

/**
 * Senders posting numbered requests at a server, `senders` at once and each the next number as soon
 * as its last is answered (as Prometheus sends remote writes or alerts), until `killAfter` kills the
 * server under them. `acked`: the numbers answered 2xx; `unacked`: the others, refused or cut off by
 * the kill (so maybe stored); `sent`: how many numbers were used.
 */
export function keepSending(server: RunningServer, senders: number, send: (n: number) => Promise<Response>) {
  const acked: number[] = []
  const unacked: number[] = []
  let next = 0
  let stop = false
  const loop = async () => {
    while (!stop) {
      const n = next++
      try {
        const res = await send(n)
        ;(res.status >= 200 && res.status < 300 ? acked : unacked).push(n)
      } catch {
        unacked.push(n) // the server died under it: not acknowledged, maybe stored
      }
    }
  }
  const running = Array.from({ length: senders }, () => loop())
  return {
    acked,
    unacked,
    get sent() {
      return next
    },
    /** Once `count` requests were acknowledged: SIGKILL the server, then stop the senders. */
    async killAfter(count: number) {
      while (acked.length < count) await new Promise((r) => setTimeout(r, 20))
      await hardKill(server)
      stop = true
      await Promise.all(running)
    },
  }
}

/** The same server again on the data folder (database and secret key) of one that was killed. */
export const restart = (killed: RunningServer, env: Record<string, string> = {}) =>
  startFaultServer({
    env: { DATA_DIR: killed.env.DATA_DIR!, DATABASE_URL: killed.env.DATABASE_URL!, ...env },
  })

/**
 * Signs in through the login form as a browser does. `cookie`: the session cookie's value (undefined
 * when the sign-in failed; the test asserts on it), `status`: the form's answer, for the message.
 */
export async function signIn(server: RunningServer, credentials: { email: string; password: string }) {
  const login = await server.fetch('/login', {
    method: 'POST',
    body: new URLSearchParams(credentials),
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    redirect: 'manual',
  })
  return { cookie: login.headers.get('set-cookie')?.match(/hs_session=([^;]+)/)?.[1], status: login.status }
}

export type Reply = { status: number; headers: Headers; text: string; json: any }

/**
 * A JSON caller with one API key. `timeoutMs`: how long one call may take (while the database is
 * locked every write on the server's thread waits out the busy timeout, one after another).
 */
export function api(server: RunningServer, key: string, timeoutMs = 30_000) {
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> => {
    const res = await server.fetch(path, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    })
    const text = await res.text()
    let json: unknown = null
    try {
      json = JSON.parse(text)
    } catch {
      // not JSON (an HTML page, an empty body): the caller reads `text`
    }
    return { status: res.status, headers: res.headers, text, json }
  }
}

/** Keys for a server: an operator (also ingests), an admin and a viewer, made with the CLI. */
export async function keysFor(server: RunningServer) {
  return {
    operator: await cliKey(server, 'faults-operator', 'operator'),
    admin: await cliKey(server, 'faults-admin', 'admin'),
    viewer: await cliKey(server, 'faults-viewer', 'viewer'),
  }
}

/**
 * A connection of the test's own to a server's database file, for counts the API does not give
 * (duplicate rows). Read-only use; closed by the caller.
 */
export function openDbFile(server: RunningServer): Client {
  return createClient({ url: server.env.DATABASE_URL!, intMode: 'number' })
}

/** `select count(*)` (or any one-number query) on the database file. */
export async function scalar(db: Client, sql: string, args: (string | number)[] = []) {
  const r = await db.execute({ sql, args })
  return Number(Object.values(r.rows[0] ?? {})[0] ?? 0)
}
