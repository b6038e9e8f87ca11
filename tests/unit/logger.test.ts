import { describe, expect, it } from 'vitest'
import { createLogger, type LogLevel } from '../../app/lib/logger.ts'

function capture(level: LogLevel, base: Record<string, unknown> = {}) {
  const lines: { stream: string; entry: Record<string, unknown> }[] = []
  const log = createLogger(level, base, (stream, line) =>
    lines.push({ stream, entry: JSON.parse(line) as Record<string, unknown> }),
  )
  return { log, lines, entries: () => lines.map((l) => l.entry) }
}

describe('logger', () => {
  it('writes one JSON object per line with time, level, message and fields', () => {
    const { log, lines } = capture('debug', { service: 'homeostat' })
    log.info('request', { requestId: 'r1', status: 200 })
    expect(lines).toHaveLength(1)
    expect(lines[0]!.stream).toBe('info')
    expect(lines[0]!.entry).toEqual({
      time: expect.any(String),
      level: 'info',
      msg: 'request',
      service: 'homeostat',
      requestId: 'r1',
      status: 200,
    })
    expect(Number.isNaN(Date.parse(lines[0]!.entry.time as string))).toBe(false)
  })

  it('drops lines below the level; silent drops all', () => {
    const warn = capture('warn')
    warn.log.debug('d')
    warn.log.info('i')
    warn.log.warn('w')
    warn.log.error('e')
    expect(warn.entries().map((e) => e.level)).toEqual(['warn', 'error'])
    const silent = capture('silent')
    silent.log.error('nothing')
    expect(silent.lines).toHaveLength(0)
  })

  it('redacts password, token, authorization, key and cookie fields', () => {
    const { log, entries } = capture('info')
    log.info('login', {
      password: 'hunter2',
      newPassword: 'hunter3',
      token: 'tok',
      csrfToken: 'csrf',
      authorization: 'Bearer hs_abc',
      Authorization: 'Bearer hs_def',
      'x-api-key': 'hs_ghi',
      apiKey: 'hs_jkl',
      cookie: 'hs_session=1',
      secret: 's',
      email: 'a@example.com',
    })
    const e = entries()[0]!
    for (const k of [
      'password',
      'newPassword',
      'token',
      'csrfToken',
      'authorization',
      'Authorization',
      'x-api-key',
      'apiKey',
      'cookie',
      'secret',
    ])
      expect(e[k]).toBe('[redacted]')
    expect(e.email).toBe('a@example.com')
    expect(JSON.stringify(e)).not.toMatch(/hunter|hs_|tok"|csrf"/)
  })

  it('redacts secret fields nested in objects and arrays', () => {
    const { log, entries } = capture('info')
    log.warn('outgoing call failed', {
      request: { url: 'https://x', headers: { Authorization: 'Bearer hs_nested' } },
      channels: [{ name: 'slack', token: 'xoxb-1' }],
    })
    const line = JSON.stringify(entries()[0])
    expect(line).not.toContain('hs_nested')
    expect(line).not.toContain('xoxb-1')
    expect(line).toContain('https://x')
    expect(line).toContain('slack')
  })

  it('child loggers add their fields and redact them too', () => {
    const { log, entries } = capture('info', { service: 'homeostat' })
    log.child({ job: 'housekeeping', sessionToken: 'abc' }).info('ran', { n: 1 })
    expect(entries()[0]).toMatchObject({ service: 'homeostat', job: 'housekeeping', sessionToken: '[redacted]', n: 1 })
  })
})
