/**
 * The outbound helper pins the address it checked by giving `node:http(s)` a `lookup` that answers
 * with it. Bun and Deno implement `node:http` themselves, so this runs tests/e2e/outbound-check.ts
 * under each of the three runtimes and expects the same result: refused before connecting, the
 * checked address used (the host name exists nowhere in DNS), one resolution, the Host header and
 * TLS SNI and certificate name still the host name, redirects re-checked, the byte cap, the timeout.
 * See docs/adr/0007-outbound-policy.md.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_TLS_CERT } from '../helpers/test-tls.ts'
import { BUN, DENO, killAll, ROOT, run, tempData } from '../helpers/server.ts'

afterAll(killAll)

const script = 'tests/e2e/outbound-check.ts'
const commands: Record<string, [string, string[]]> = {
  node: [join(ROOT, 'node_modules/.bin/tsx'), [script]],
  bun: [BUN, [script]],
  deno: [DENO, ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-sys', script]],
}

const expected = {
  refusedLoopback: { error: 'refused' },
  refusedLocalhost: { error: 'refused' },
  connectionsAfterRefusal: 0,
  pinnedName: { status: 200, text: 'GET', truncated: false, bytes: 3 },
  hostHeader: true,
  resolvedOnce: true,
  seeOther: { status: 200, text: 'GET', truncated: false, bytes: 3 },
  redirectToRefused: { error: 'refused' },
  redirectConnections: 1,
  big: { status: 200, text: 'a'.repeat(20), truncated: true, bytes: 100_000 },
  bigClosed: true,
  hang: { error: 'timeout' },
  basicAuth: { status: 200, text: 'Basic YWRhOnB3', truncated: false, bytes: 14 },
  tls: { status: 200, text: 'tls ok', truncated: false, bytes: 6 },
  sni: ['svc.test'],
  tlsWrongName: { error: 'network' },
}

describe('outbound helper on every runtime', () => {
  const { dir } = tempData('homeostat-outbound-')
  const ca = join(dir, 'test-ca.pem')
  writeFileSync(ca, TEST_TLS_CERT)

  it.each(Object.keys(commands))('%s', async (runtime) => {
    const [command, args] = commands[runtime]!
    // NODE_EXTRA_CA_CERTS is read by all three (Deno's --cert does not reach its node:https).
    const result = await run(command, args, { NODE_EXTRA_CA_CERTS: ca }, 60_000)
    expect(result.code, result.stderr).toBe(0)
    const last = result.stdout.trim().split('\n').at(-1) ?? ''
    expect(JSON.parse(last)).toEqual(expected)
  })
})
