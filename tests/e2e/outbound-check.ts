/**
 * Run by tests/e2e/outbound-runtimes.test.ts under Node, Bun and Deno: the outbound helper against
 * HTTP and HTTPS servers on 127.0.0.1 (loopback only; every refused destination here is on loopback
 * too, so even a runtime that ignored the policy would send nothing further). Prints one JSON line
 * of what it saw; the test compares it across runtimes. The HTTPS server uses the test certificate
 * for `svc.test`, which the runtime must be told to trust (NODE_EXTRA_CA_CERTS, or Deno's --cert).
 */
import { createServer } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import type { AddressInfo } from 'node:net'
import {
  createOutboundPolicy,
  OutboundError,
  outboundFetch,
  parseOutboundAllow,
  type ResolvedAddress,
} from '../../app/lib/outbound.ts'
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../helpers/test-tls.ts'

let connections = 0
let bigClosed = false
const hosts: (string | undefined)[] = []
const http = createServer((req, res) => {
  hosts.push(req.headers.host)
  const path = new URL(req.url ?? '/', 'http://x').pathname
  if (path === '/hang') return
  if (path === '/auth') return void res.writeHead(200).end(req.headers.authorization ?? 'none')
  if (path === '/see-other') return void res.writeHead(303, { location: '/method' }).end()
  if (path === '/to-loopback-2') return void res.writeHead(302, { location: `http://127.0.0.2:${port}/method` }).end()
  if (path === '/big') {
    res.writeHead(200)
    const chunk = new Uint8Array(16 * 1024).fill(0x61)
    const pump = () => {
      while (!bigClosed && res.write(chunk)) {}
    }
    res.on('drain', pump)
    res.on('close', () => (bigClosed = true))
    return pump()
  }
  res.writeHead(200).end(req.method)
})
http.on('connection', () => connections++)
await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
const port = (http.address() as AddressInfo).port

const snis: (string | undefined)[] = []
const tls = createTlsServer({ key: TEST_TLS_KEY, cert: TEST_TLS_CERT }, (req, res) => {
  snis.push((req.socket as { servername?: string }).servername)
  res.end('tls ok')
})
await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
const tlsPort = (tls.address() as AddressInfo).port

let resolved = 0
const resolve = async (host: string): Promise<ResolvedAddress[]> => {
  resolved++
  if (host === 'svc.test' || host === 'other.test') return [{ address: '127.0.0.1', family: 4 }]
  throw Object.assign(new Error('no such host'), { code: 'ENOTFOUND' })
}
const policy = (allow: string) => createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow(allow) }, resolve)

/** The answer's status and text, or the error's reason. */
async function attempt(call: Promise<{ status: number; text(): string; truncated: boolean; body: Uint8Array }>) {
  try {
    const res = await call
    return { status: res.status, text: res.text().slice(0, 20), truncated: res.truncated, bytes: res.body.byteLength }
  } catch (error) {
    return { error: error instanceof OutboundError ? error.reason : String(error) }
  }
}

const out: Record<string, unknown> = {}
out.refusedLoopback = await attempt(outboundFetch(policy(''), `http://127.0.0.1:${port}/`))
// The runtime's own resolver (dns.lookup, all addresses): localhost resolves to loopback and is refused.
out.refusedLocalhost = await attempt(
  outboundFetch(createOutboundPolicy({ OUTBOUND_ALLOW: [] }), `http://localhost:${port}/`),
)
out.connectionsAfterRefusal = connections
out.pinnedName = await attempt(outboundFetch(policy('svc.test'), `http://svc.test:${port}/`))
out.hostHeader = hosts.at(-1) === `svc.test:${port}`
out.resolvedOnce = resolved === 1
out.seeOther = await attempt(
  outboundFetch(policy('127.0.0.1'), `http://127.0.0.1:${port}/see-other`, { method: 'POST', body: 'x' }),
)
const before = connections
out.redirectToRefused = await attempt(
  outboundFetch(policy(`127.0.0.1:${port}`), `http://127.0.0.1:${port}/to-loopback-2`),
)
out.redirectConnections = connections - before
out.big = await attempt(outboundFetch(policy('127.0.0.1'), `http://127.0.0.1:${port}/big`, { maxBytes: 100_000 }))
await new Promise((r) => setTimeout(r, 200))
out.bigClosed = bigClosed
out.hang = await attempt(outboundFetch(policy('127.0.0.1'), `http://127.0.0.1:${port}/hang`, { timeoutMs: 300 }))
out.basicAuth = await attempt(outboundFetch(policy('127.0.0.1'), `http://ada:pw@127.0.0.1:${port}/auth`))
out.tls = await attempt(outboundFetch(policy('svc.test'), `https://svc.test:${tlsPort}/`))
out.sni = snis
out.tlsWrongName = await attempt(outboundFetch(policy('other.test'), `https://other.test:${tlsPort}/`))

console.log(JSON.stringify(out))
http.closeAllConnections()
tls.closeAllConnections()
http.close()
tls.close()
