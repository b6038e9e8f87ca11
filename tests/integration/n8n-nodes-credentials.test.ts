/**
 * The Homeostat API credential's Test button: every node's `methods.credentialTest` (picked through
 * its `testedBy`, as n8n 1.x picks it when the credential type has no declarative `test`), run with
 * an ICredentialTestFunctions context against the real app on a loopback port, a local HTTP server
 * that is not Homeostat, and a closed port.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createApiKey } from '../../app/modules/auth/keys.ts'
import { testApp, type TestApp } from '../helpers/app.ts'
import {
  HomeostatAlert,
  HomeostatApi,
  HomeostatHeal,
  HomeostatMetricsRecord,
  HomeostatTrigger,
  serveApp,
  testCredential,
} from '../helpers/n8n-harness.ts'
import { freePort } from '../helpers/server.ts'

let t: TestApp
let server: Awaited<ReturnType<typeof serveApp>>
let operatorKey: string
let operatorPrefix: string
let other: Server
let otherUrl: string
const otherCalls: string[] = []

beforeAll(async () => {
  t = await testApp()
  server = await serveApp(t)
  const created = await createApiKey(t.db, { name: 'n8n', role: 'operator', scopes: [] })
  operatorKey = created.key
  operatorPrefix = created.row.prefix
  // A web server that is not Homeostat: an HTML 404 for everything but `/`, which is an HTML page.
  other = createServer((req, res) => {
    otherCalls.push(`${req.method} ${req.url} ${req.headers.authorization ?? ''}`)
    const page = req.url === '/'
    res.writeHead(page ? 200 : 404, { 'Content-Type': 'text/html' })
    res.end(
      page
        ? '<!doctype html><title>Intranet</title><p>Welcome</p>'
        : '<!doctype html><title>404 Not Found</title><h1>Not Found</h1>',
    )
  })
  await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve))
  otherUrl = `http://127.0.0.1:${(other.address() as AddressInfo).port}`
})
afterAll(async () => {
  await new Promise((resolve) => other.close(resolve))
  await server.close()
  t.close()
})

describe('the credential type', () => {
  it("has no declarative test (n8n would use it before any node's testedBy) and authenticates with Bearer", () => {
    const type = new HomeostatApi()
    expect('test' in type).toBe(false)
    expect(type.authenticate.properties.headers).toEqual({ Authorization: '=Bearer {{$credentials.apiKey}}' })
  })

  it('is tested by the same shared function in every node', () => {
    const nodes = [new HomeostatAlert(), new HomeostatMetricsRecord(), new HomeostatTrigger(), new HomeostatHeal()]
    const fns = nodes.map((n) => {
      expect(n.description.credentials).toEqual([
        { name: 'homeostatApi', required: true, testedBy: 'homeostatApiTest' },
      ])
      return n.methods?.credentialTest?.homeostatApiTest
    })
    expect(typeof fns[0]).toBe('function')
    expect(new Set(fns).size).toBe(1)
  })
})

describe.each([
  ['Alert', new HomeostatAlert()],
  ['Metrics Record', new HomeostatMetricsRecord()],
  ['Trigger', new HomeostatTrigger()],
  ['Heal', new HomeostatHeal()],
])('Test from the %s node', (_, node) => {
  it("a good key signs in: the key's name and role", async () => {
    const r = await testCredential(node, { baseUrl: `${server.url}/`, apiKey: operatorKey })
    expect(r).toMatchObject({ status: 'OK', message: `Signed in as ${operatorPrefix} (operator)` })
    expect(r.sent).toEqual([
      expect.objectContaining({ method: 'GET', url: `${server.url}/api/v1/whoami`, statusCode: 200 }),
    ])
  })

  it('a key Homeostat does not know: its own 401 message', async () => {
    const r = await testCredential(node, { baseUrl: server.url, apiKey: 'hs_nothere1_abcdefabcdefabcdefabcdefabcdef' })
    expect(r).toMatchObject({ status: 'Error', message: 'Homeostat: API key not recognised [HTTP 401]' })
  })
})

describe('Test: what goes wrong', () => {
  const test = (baseUrl: string, apiKey = operatorKey) => testCredential(new HomeostatAlert(), { baseUrl, apiKey })

  it('a revoked key: the server\'s "revoked" message and status', async () => {
    const { key, row } = await createApiKey(t.db, { name: 'old', role: 'viewer', scopes: [] })
    expect((await test(server.url, key)).status).toBe('OK')
    const revoked = await t.app.request(`/api/v1/keys/${row.id}`, {
      method: 'DELETE',
      headers: (await t.session('admin')).headers,
    })
    expect(revoked.status, await revoked.clone().text()).toBe(200)
    expect(await test(server.url, key)).toMatchObject({
      status: 'Error',
      message: 'Homeostat: API key has been revoked [HTTP 401]',
    })
  })

  it('a server that is not Homeostat (HTML 404): no Homeostat API at this base URL, give it without /api/v1', async () => {
    const r = await test(otherUrl)
    expect(r.status).toBe('Error')
    expect(r.message).toBe(
      `No Homeostat API at ${otherUrl}: GET ${otherUrl}/api/v1/whoami answered HTTP 404 with a web page. Give the address Homeostat answers at, without /api/v1 (e.g. https://homeostat.example.com)`,
    )
    expect(otherCalls.at(-1)).toBe(`GET /api/v1/whoami Bearer ${operatorKey}`)
  })

  it('a server answering every path with a 200 page is not taken for Homeostat', async () => {
    const other200 = createServer((_req, res) =>
      res.writeHead(200, { 'Content-Type': 'text/html' }).end('<!doctype html><p>app</p>'),
    )
    await new Promise<void>((resolve) => other200.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(other200.address() as AddressInfo).port}`
      expect(await test(url)).toMatchObject({
        status: 'Error',
        message: expect.stringMatching(new RegExp(`^No Homeostat API at ${url}: .* answered HTTP 200 with a web page`)),
      })
    } finally {
      await new Promise((resolve) => other200.close(resolve))
    }
  })

  it("a base URL given with /api/v1: Homeostat's 404 and the base-URL advice", async () => {
    const r = await test(`${server.url}/api/v1`)
    expect(r.status).toBe('Error')
    expect(r.message).toMatch(
      /^Homeostat: .+ \[HTTP 404\]\. No Homeostat API at http:\/\/127\.0\.0\.1:\d+\/api\/v1: .*without \/api\/v1/,
    )
  })

  it('a closed port: could not reach Homeostat, connection refused', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const r = await test(url)
    expect(r.status).toBe('Error')
    expect(r.message).toMatch(
      new RegExp(`^Could not reach Homeostat at ${url}: connection refused \\(.*ECONNREFUSED.*\\)$`),
    )
  })

  it('a host name that does not resolve: could not reach Homeostat, with the DNS reason', async () => {
    const r = await test('http://homeostat.invalid')
    expect(r.status).toBe('Error')
    expect(r.message).toMatch(
      /^Could not reach Homeostat at http:\/\/homeostat\.invalid: (the host name does not resolve|.*EAI_AGAIN|.*ENOTFOUND)/,
    )
  })

  it("a proxy error that is not Homeostat's: the status and the start of the page", async () => {
    const proxy = createServer((_req, res) =>
      res.writeHead(502, { 'Content-Type': 'text/html' }).end('<html><body>502 Bad Gateway</body></html>'),
    )
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    try {
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`
      expect(await test(url)).toMatchObject({
        status: 'Error',
        message: `${url} answered HTTP 502 to /api/v1/whoami, not with a Homeostat error: <html><body>502 Bad Gateway</body></html>`,
      })
    } finally {
      await new Promise((resolve) => proxy.close(resolve))
    }
  })

  it('bad fields are refused before any request', async () => {
    const noScheme = await test('homeostat.example.com')
    expect(noScheme).toMatchObject({
      status: 'Error',
      message: 'Base URL "homeostat.example.com" is not an http:// or https:// address',
    })
    expect(noScheme.sent).toEqual([])
    const noKey = await test(server.url, '  ')
    expect(noKey).toMatchObject({ status: 'Error', message: 'API Key is empty' })
    expect(noKey.sent).toEqual([])
  })
})
