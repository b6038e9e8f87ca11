/**
 * The outbound helper against real HTTP(S) servers on 127.0.0.1. Traffic goes to loopback only:
 * every other address in this file is one the policy refuses before a connection is made, and the
 * tests assert that no socket connected (a spy on `net.Socket.prototype.connect`, and the local
 * server's connection count).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { createServer as createTlsServer } from 'node:https'
import net, { type AddressInfo } from 'node:net'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import {
  createOutboundPolicy,
  OutboundError,
  type OutboundPolicy,
  outboundFetch,
  parseOutboundAllow,
  type ResolvedAddress,
} from '../../app/lib/outbound.ts'
import { readBody } from '../helpers/http.ts'
import { TEST_TLS_CERT, TEST_TLS_KEY } from '../helpers/test-tls.ts'
import { connectsDuring } from '../helpers/connections.ts'

type Seen = { method: string; path: string; headers: IncomingMessage['headers']; body: string }
type Route = (req: IncomingMessage, res: ServerResponse, base: string) => void

/** A local server that records each request and counts the connections made to it. */
async function localServer(routes: Record<string, Route>) {
  const seen: Seen[] = []
  let connections = 0
  let base = ''
  const server: Server = createServer(async (req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const { text } = await readBody(req)
    seen.push({ method: req.method ?? '', path, headers: req.headers, body: text })
    const route = routes[path] ?? ((_q, r) => r.writeHead(404).end('no such path'))
    route(req, res, base)
  })
  server.on('connection', () => connections++)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as AddressInfo).port
  base = `http://127.0.0.1:${port}`
  return {
    base,
    port,
    seen,
    connections: () => connections,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Reasons and messages of a call expected to fail. */
async function failure(call: Promise<unknown>): Promise<OutboundError> {
  try {
    await call
  } catch (error) {
    expect(error).toBeInstanceOf(OutboundError)
    return error as OutboundError
  }
  throw new Error('expected the outbound call to fail')
}

/** A resolver with fixed answers that counts its calls: host names never reach DNS. */
function fixedResolver(answers: Record<string, string[]>) {
  const calls: string[] = []
  const resolve = async (host: string): Promise<ResolvedAddress[]> => {
    calls.push(host)
    const list = answers[host]
    if (!list) throw Object.assign(new Error(`no answer for ${host}`), { code: 'ENOTFOUND' })
    return list.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }))
  }
  return { calls, resolve }
}

const policy = (allow: string, resolve?: OutboundPolicy['resolve']) =>
  createOutboundPolicy({ OUTBOUND_ALLOW: parseOutboundAllow(allow) }, resolve)

let target: Awaited<ReturnType<typeof localServer>>
let other: Awaited<ReturnType<typeof localServer>>
let bigWritten = 0
let bigClosed = false

beforeAll(async () => {
  other = await localServer({
    '/echo': (req, res) => res.writeHead(200).end(req.method),
  })
  target = await localServer({
    '/ok': (_req, res) => res.writeHead(200, { 'content-type': 'text/plain', 'x-answer': '42' }).end('hello'),
    '/hang': () => {},
    '/slow-body': (_req, res) => res.writeHead(200).write('partial '),
    '/reset': (req) => req.socket.destroy(),
    // An endless body: the test proves the helper stops reading and closes the connection.
    '/big': (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' })
      const chunk = Buffer.alloc(16 * 1024, 0x61)
      const pump = () => {
        while (!bigClosed && res.write(chunk)) bigWritten += chunk.length
      }
      res.on('drain', pump)
      res.on('close', () => (bigClosed = true))
      pump()
    },
    '/exact': (_req, res) => res.writeHead(200).end(Buffer.alloc(1000, 0x62)),
    '/to-private': (_req, res) => res.writeHead(302, { location: 'http://10.0.0.1/admin' }).end(),
    '/to-metadata': (_req, res) =>
      res.writeHead(307, { location: 'http://169.254.169.254/latest/meta-data/iam/' }).end(),
    '/to-metadata-name': (_req, res) => res.writeHead(301, { location: 'http://metadata.google.internal/' }).end(),
    '/to-file': (_req, res) => res.writeHead(302, { location: 'file:///etc/passwd' }).end(),
    '/no-location': (_req, res) => res.writeHead(302).end(),
    '/see-other': (_req, res) => res.writeHead(303, { location: '/echo' }).end(),
    '/temporary': (_req, res) => res.writeHead(307, { location: '/echo' }).end(),
    '/found': (_req, res) => res.writeHead(302, { location: '/echo' }).end(),
    '/to-other-origin': (_req, res) => res.writeHead(302, { location: `${other.base}/echo` }).end(),
    '/to-other-origin-307': (_req, res) => res.writeHead(307, { location: `${other.base}/echo` }).end(),
    '/echo': (req, res) => res.writeHead(200).end(req.method),
    '/auth': (req, res) => res.writeHead(200).end(req.headers.authorization ?? 'none'),
    // Three hops before the answer, with relative and absolute Locations.
    '/c3': (_req, res, base) => res.writeHead(301, { location: `${base}/c2` }).end(),
    '/c2': (_req, res) => res.writeHead(302, { location: 'c1' }).end(),
    '/c1': (_req, res) => res.writeHead(308, { location: '/echo?x=1' }).end(),
  })
})

afterAll(async () => {
  await target.close()
  await other.close()
})

afterEach(() => {
  vi.restoreAllMocks()
})

describe('refused before any connection', () => {
  it('the spy sees a real connection (control: the assertions below can fail)', async () => {
    expect(await connectsDuring(() => outboundFetch(policy('127.0.0.1'), `${target.base}/ok`), 1)).toBe(1)
  })

  it.each([
    ['private 10/8', 'http://10.0.0.1/'],
    ['private 172.16/12', 'http://172.16.5.4:8080/'],
    ['private 192.168/16', 'https://192.168.1.1/'],
    ['CGNAT 100.64/10', 'http://100.64.0.1/'],
    ['link-local 169.254/16', 'http://169.254.10.10/'],
    ['metadata 169.254.169.254', 'http://169.254.169.254/latest/meta-data/iam/security-credentials/'],
    ['metadata fd00:ec2::254', 'http://[fd00:ec2::254]/latest/meta-data/'],
    ['unique-local fd00::/8', 'http://[fd00::1]/'],
    ['link-local fe80::/10', 'http://[fe80::1]/'],
    ['unspecified 0.0.0.0', 'http://0.0.0.0:{port}/ok'],
    ['unspecified ::', 'http://[::]:{port}/ok'],
    ['loopback ::1', 'http://[::1]:{port}/ok'],
    ['IPv4-mapped ::ffff:127.0.0.1', 'http://[::ffff:127.0.0.1]:{port}/ok'],
    ['IPv4-mapped hex ::ffff:7f00:1', 'http://[::ffff:7f00:1]:{port}/ok'],
    ['NAT64 of loopback', 'http://[64:ff9b::7f00:1]:{port}/ok'],
    ['decimal IPv4 2130706433 (127.0.0.1)', 'http://2130706433:{port}/ok'],
    ['hex/short IPv4 0x7f.1 (127.0.0.1)', 'http://0x7f.1:{port}/ok'],
    ['multicast', 'http://224.0.0.1/'],
    ['broadcast', 'http://255.255.255.255/'],
    ['metadata name', 'http://metadata.google.internal/computeMetadata/v1/'],
    ['metadata short name', 'http://metadata/computeMetadata/v1/'],
    ['metadata name with trailing dot', 'http://metadata.google.internal./'],
  ])('%s', async (_label, template) => {
    const url = template.replace('{port}', String(target.port))
    const resolver = fixedResolver({})
    let error: OutboundError | undefined
    const connects = await connectsDuring(async () => {
      error = await failure(outboundFetch(policy('', resolver.resolve), url))
    })
    expect(error?.reason).toBe('refused')
    expect(error?.message).toBe('refused by the outbound policy')
    expect(connects).toBe(0)
    // Addresses and the metadata names are judged without asking DNS.
    expect(resolver.calls).toEqual([])
  })

  it('a host name that resolves to loopback (localhost, real resolver) is refused', async () => {
    const before = target.connections()
    let error: OutboundError | undefined
    const connects = await connectsDuring(async () => {
      error = await failure(outboundFetch(policy(''), `http://localhost:${target.port}/ok`))
    })
    expect(error?.reason).toBe('refused')
    expect(connects).toBe(0)
    expect(target.connections()).toBe(before)
  })

  it('a name with one public and one internal address is refused whole (no connection to either)', async () => {
    const resolver = fixedResolver({ 'mixed.test': ['93.184.215.14', '10.0.0.7'], 'inside.test': ['192.168.0.9'] })
    for (const host of ['mixed.test', 'inside.test']) {
      let error: OutboundError | undefined
      const connects = await connectsDuring(async () => {
        error = await failure(outboundFetch(policy('', resolver.resolve), `http://${host}/`))
      })
      expect(error?.reason).toBe('refused')
      expect(connects).toBe(0)
    }
  })

  it('the error tells nothing more (no address class) in its message; the detail is for logs', async () => {
    const error = await failure(outboundFetch(policy(''), 'http://169.254.169.254/?token=s3cret'))
    expect(error.message).toBe('refused by the outbound policy')
    expect(error.detail).toContain('metadata')
    expect(error.detail).not.toContain('s3cret')
  })
})

describe('the allow-list opens a destination', () => {
  it('127.0.0.1 is refused without the allow-list and reached with it', async () => {
    const before = target.connections()
    const refused = await failure(outboundFetch(policy(''), `${target.base}/ok`))
    expect(refused.reason).toBe('refused')
    expect(target.connections()).toBe(before)

    const res = await outboundFetch(policy(`127.0.0.1:${target.port}`), `${target.base}/ok`)
    expect(res.status).toBe(200)
    expect(res.text()).toBe('hello')
    expect(res.headers.get('x-answer')).toBe('42')
    expect(res.truncated).toBe(false)
    expect(res.url).toBe(`${target.base}/ok`)
    expect(target.connections()).toBe(before + 1)
  })

  it('credentials in the URL are sent as Basic auth, unless the caller set Authorization', async () => {
    const url = `http://ada:p%40ss@127.0.0.1:${target.port}/auth`
    const basic = await outboundFetch(policy('127.0.0.1'), url)
    expect(basic.text()).toBe(`Basic ${Buffer.from('ada:p@ss').toString('base64')}`)
    const own = await outboundFetch(policy('127.0.0.1'), url, { headers: { Authorization: 'Bearer t' } })
    expect(own.text()).toBe('Bearer t')
    expect((await outboundFetch(policy('127.0.0.1'), `${target.base}/auth`)).text()).toBe('none')
  })

  it('an entry for another port does not open this one', async () => {
    const error = await failure(outboundFetch(policy(`127.0.0.1:${target.port + 1}`), `${target.base}/ok`))
    expect(error.reason).toBe('refused')
  })

  it('a name allowed by name connects to the address it resolved, once (no second resolution)', async () => {
    // `svc.test` exists nowhere in DNS: reaching the server proves the checked address was used.
    const resolver = fixedResolver({ 'svc.test': ['127.0.0.1'] })
    const res = await outboundFetch(policy('svc.test', resolver.resolve), `http://svc.test:${target.port}/ok`)
    expect(res.status).toBe(200)
    expect(resolver.calls).toEqual(['svc.test'])
    expect(target.seen.at(-1)?.headers.host).toBe(`svc.test:${target.port}`)
  })

  it('a resolver that changes its answer after the check (DNS rebinding) is asked once and not followed', async () => {
    let asked = 0
    const rebinding = async (): Promise<ResolvedAddress[]> => [
      asked++ === 0 ? { address: '127.0.0.1', family: 4 } : { address: '10.0.0.1', family: 4 },
    ]
    const connects = await connectsDuring(async () => {
      const res = await outboundFetch(policy('svc.test', rebinding), `http://svc.test:${target.port}/ok`)
      expect(res.status).toBe(200)
    }, 1)
    expect(asked).toBe(1)
    expect(connects).toBe(1)
  })
})

describe('https keeps the host name for SNI and the certificate check', () => {
  it('connects to the checked address, sends SNI svc.test, and verifies the certificate', async () => {
    const names: (string | undefined)[] = []
    const tls = createTlsServer(
      {
        key: TEST_TLS_KEY,
        cert: TEST_TLS_CERT,
        SNICallback: (name, cb) => {
          names.push(name)
          cb(null, undefined)
        },
      },
      (_req, res) => res.end('secret'),
    )
    await new Promise<void>((resolve) => tls.listen(0, '127.0.0.1', resolve))
    const port = (tls.address() as AddressInfo).port
    try {
      const resolver = fixedResolver({ 'svc.test': ['127.0.0.1'] })
      // The test certificate is self-signed: the helper refusing it shows the check is on.
      const error = await failure(outboundFetch(policy('svc.test', resolver.resolve), `https://svc.test:${port}/`))
      expect(error.reason).toBe('network')
      expect(error.message).toBe('could not reach the destination')
      expect(names).toEqual(['svc.test'])
      expect(resolver.calls).toEqual(['svc.test'])
    } finally {
      tls.closeAllConnections()
      await new Promise((resolve) => tls.close(resolve))
    }
  })
})

describe('redirects', () => {
  const open = () => policy('127.0.0.1')

  it('a redirect from an allowed host to a refused one is refused, without connecting to it', async () => {
    for (const path of ['/to-private', '/to-metadata', '/to-metadata-name']) {
      let error: OutboundError | undefined
      const connects = await connectsDuring(async () => {
        error = await failure(outboundFetch(open(), `${target.base}${path}`))
      }, 1)
      expect(error?.reason, path).toBe('refused')
      expect(connects, path).toBe(1) // the first hop only
    }
  })

  it('a redirect to 127.0.0.1 on another port is refused when only this port is allowed', async () => {
    const before = other.connections()
    const error = await failure(outboundFetch(policy(`127.0.0.1:${target.port}`), `${target.base}/to-other-origin`))
    expect(error.reason).toBe('refused')
    expect(other.connections()).toBe(before)
  })

  it('counts hops, stops at maxRedirects, and 0 returns the 3xx as it is', async () => {
    const res = await outboundFetch(open(), `${target.base}/found`)
    expect(res).toMatchObject({ status: 200, redirects: 1, url: `${target.base}/echo` })

    const three = await outboundFetch(open(), `${target.base}/c3`, { maxRedirects: 3 })
    expect(three).toMatchObject({ status: 200, redirects: 3, url: `${target.base}/echo?x=1` })
    const tooMany = await failure(outboundFetch(open(), `${target.base}/c3`, { maxRedirects: 2 }))
    expect(tooMany.reason).toBe('redirect')
    expect(tooMany.message).toBe('more than 2 redirects')

    const asIs = await outboundFetch(open(), `${target.base}/found`, { maxRedirects: 0 })
    expect(asIs.status).toBe(302)
    expect(asIs.headers.get('location')).toBe('/echo')
    expect(asIs.redirects).toBe(0)
  })

  it('a redirect loop fails after maxRedirects hops', async () => {
    const loop = await localServer({ '/loop': (_req, res) => res.writeHead(302, { location: '/loop' }).end() })
    try {
      const error = await failure(outboundFetch(open(), `${loop.base}/loop`, { maxRedirects: 3 }))
      expect(error.reason).toBe('redirect')
      expect(error.message).toBe('more than 3 redirects')
      expect(loop.seen.length).toBe(4)
    } finally {
      await loop.close()
    }
  })

  it('303 turns a POST into a GET without body; 302 too; 307 keeps method and body', async () => {
    const init = { method: 'POST', body: '{"a":1}', headers: { 'content-type': 'application/json' } }
    const seeOther = await outboundFetch(open(), `${target.base}/see-other`, init)
    expect(seeOther.text()).toBe('GET')
    expect(target.seen.at(-1)).toMatchObject({ method: 'GET', path: '/echo', body: '' })
    expect(target.seen.at(-1)?.headers['content-type']).toBeUndefined()

    const found = await outboundFetch(open(), `${target.base}/found`, init)
    expect(found.text()).toBe('GET')

    const temporary = await outboundFetch(open(), `${target.base}/temporary`, init)
    expect(temporary.text()).toBe('POST')
    expect(target.seen.at(-1)).toMatchObject({ method: 'POST', path: '/echo', body: '{"a":1}' })
  })

  it('a hop to another origin drops Authorization, cookies and custom headers; the same origin keeps them', async () => {
    const headers = { authorization: 'Bearer s3cret', cookie: 'a=b', 'x-token': 't0ken', accept: 'text/plain' }
    await outboundFetch(open(), `${target.base}/found`, { headers })
    expect(target.seen.at(-1)?.headers).toMatchObject({ authorization: 'Bearer s3cret', 'x-token': 't0ken' })

    await outboundFetch(open(), `${target.base}/to-other-origin`, { headers })
    const hop = other.seen.at(-1)!.headers
    expect(hop.authorization).toBeUndefined()
    expect(hop.cookie).toBeUndefined()
    expect(hop['x-token']).toBeUndefined()
    expect(hop.accept).toBe('text/plain')
  })

  it('a 307 to another origin would resend the body: refused as a redirect error', async () => {
    const before = other.connections()
    const error = await failure(
      outboundFetch(open(), `${target.base}/to-other-origin-307`, { method: 'POST', body: 'alert' }),
    )
    expect(error.reason).toBe('redirect')
    expect(other.connections()).toBe(before)
  })

  it('a redirect to a non-http scheme or without Location fails as a redirect error', async () => {
    expect((await failure(outboundFetch(open(), `${target.base}/to-file`))).reason).toBe('redirect')
    expect((await failure(outboundFetch(open(), `${target.base}/no-location`))).reason).toBe('redirect')
  })
})

describe('limits', () => {
  const open = () => policy('127.0.0.1')

  it('a large reply is cut at the cap, flagged truncated, and the connection is closed', async () => {
    bigWritten = 0
    bigClosed = false
    const res = await outboundFetch(open(), `${target.base}/big`, { maxBytes: 100_000 })
    expect(res.truncated).toBe(true)
    expect(res.body.byteLength).toBe(100_000)
    expect(res.body.every((b) => b === 0x61)).toBe(true)
    await vi.waitFor(() => expect(bigClosed).toBe(true))
    // The endless body stopped: what was written is bounded by socket buffers, not by time.
    expect(bigWritten).toBeLessThan(50 * 1024 * 1024)
  })

  it('a reply of exactly the cap is not truncated; one byte more is', async () => {
    const exact = await outboundFetch(open(), `${target.base}/exact`, { maxBytes: 1000 })
    expect(exact).toMatchObject({ truncated: false })
    expect(exact.body.byteLength).toBe(1000)
    const cut = await outboundFetch(open(), `${target.base}/exact`, { maxBytes: 999 })
    expect(cut.truncated).toBe(true)
    expect(cut.body.byteLength).toBe(999)
  })

  it('a server that never answers times out; so does one that stops mid-body', async () => {
    for (const path of ['/hang', '/slow-body']) {
      const started = Date.now()
      const error = await failure(outboundFetch(open(), `${target.base}${path}`, { timeoutMs: 300 }))
      expect(error.reason, path).toBe('timeout')
      expect(error.message).toBe('timed out after 300 ms')
      expect(Date.now() - started).toBeLessThan(5000)
    }
  })

  it('the caller can cancel', async () => {
    const controller = new AbortController()
    const call = outboundFetch(open(), `${target.base}/hang`, { signal: controller.signal })
    setTimeout(() => controller.abort(), 50)
    expect((await failure(call)).reason).toBe('aborted')
  })

  it('a closed port and a reset connection give the same generic network error', async () => {
    const closed = net.createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const closedPort = (closed.address() as AddressInfo).port
    await new Promise((resolve) => closed.close(resolve))
    const refused = await failure(outboundFetch(open(), `http://127.0.0.1:${closedPort}/`))
    const reset = await failure(outboundFetch(open(), `${target.base}/reset`))
    expect(refused.reason).toBe('network')
    expect(reset.reason).toBe('network')
    expect(refused.message).toBe('could not reach the destination')
    expect(reset.message).toBe(refused.message)
  })

  it('refuses what is not an absolute http(s) URL', async () => {
    for (const url of ['ftp://example.com/', 'file:///etc/passwd', '/relative', 'not a url']) {
      expect((await failure(outboundFetch(open(), url))).reason, url).toBe('invalid_url')
    }
  })
})
