import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from '../../app/config.ts'

/** The ConfigError message for an environment, or a failure if it loads. */
function failure(env: Record<string, string>): string {
  try {
    loadConfig(env)
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError)
    return (error as Error).message
  }
  throw new Error(`expected ${JSON.stringify(env)} to be refused`)
}

describe('loadConfig defaults', () => {
  it('an empty environment gives the documented defaults', () => {
    const c = loadConfig({})
    expect(c).toMatchObject({
      PORT: 8787,
      HOST: '0.0.0.0',
      PUBLIC_URL: 'http://localhost:8787',
      DATA_DIR: 'data',
      DATABASE_URL: 'file:data/homeostat.db',
      LOG_LEVEL: 'info',
      TRUST_PROXY: false,
      SESSION_TTL_HOURS: 12,
      SESSION_MAX_HOURS: 720,
      PASSWORD_HASH_COST: 17, // scrypt N = 2^17, OWASP's minimum: production's cost, whatever the tests use
      AUDIT_RETENTION_DAYS: 365,
      BODY_LIMIT_BYTES: 1024 * 1024,
      JOBS_ENABLED: true,
      METRICS_PUBLIC: false,
      REQUIRE_ADMIN_2FA: false,
    })
    expect(c.SECRET_KEY).toBeUndefined()
    expect(c.ADMIN_EMAIL).toBeUndefined()
  })

  it('parses numbers and booleans, trims, and ignores variables it does not know', () => {
    const c = loadConfig({
      PORT: ' 9000 ',
      TRUST_PROXY: 'YES',
      JOBS_ENABLED: '0',
      METRICS_PUBLIC: '1',
      PATH: '/usr/bin',
      HOME: '/root',
    })
    expect(c.PORT).toBe(9000)
    expect(c.TRUST_PROXY).toBe(true)
    expect(c.JOBS_ENABLED).toBe(false)
    expect(c.METRICS_PUBLIC).toBe(true)
    expect(c).not.toHaveProperty('PATH')
  })

  it('derives PUBLIC_URL from HOST and PORT, and drops a trailing slash from a given one', () => {
    expect(loadConfig({ HOST: '127.0.0.1', PORT: '8080' }).PUBLIC_URL).toBe('http://127.0.0.1:8080')
    expect(loadConfig({ PUBLIC_URL: 'https://status.example.com/' }).PUBLIC_URL).toBe('https://status.example.com')
  })

  it('takes every kind of database URL and a lower-cased admin email', () => {
    for (const url of [
      'file:/tmp/x.db',
      ':memory:',
      'libsql://db.turso.io',
      'https://db.example.com',
      'ws://localhost:8080',
    ]) {
      expect(loadConfig({ DATABASE_URL: url }).DATABASE_URL).toBe(url)
    }
    const c = loadConfig({ ADMIN_EMAIL: 'Admin@Example.COM', ADMIN_PASSWORD: 'a long enough password' })
    expect(c.ADMIN_EMAIL).toBe('admin@example.com')
  })
})

describe('bad values name the variable and what is allowed', () => {
  it('PORT=abc', () => {
    const m = failure({ PORT: 'abc' })
    expect(m).toContain('PORT="abc"')
    expect(m).toContain('must be a whole number from 0 to 65535')
  })

  it('PORT out of range', () => {
    expect(failure({ PORT: '70000' })).toContain('PORT="70000": must be a whole number from 0 to 65535')
  })

  it('LOG_LEVEL=loud', () => {
    expect(failure({ LOG_LEVEL: 'loud' })).toContain(
      'LOG_LEVEL="loud": must be one of debug, info, warn, error, silent',
    )
  })

  it('DATABASE_URL=postgres://x', () => {
    const m = failure({ DATABASE_URL: 'postgres://x' })
    expect(m).toContain('DATABASE_URL=')
    expect(m).toMatch(/must start with file, :memory:, libsql, https/)
  })

  it('a notification lease shorter than a send may take', () => {
    expect(failure({ NOTIFICATION_LEASE_SECONDS: '5' })).toContain(
      'NOTIFICATION_LEASE_SECONDS="5": must be a whole number from 15 to 86400',
    )
    expect(loadConfig({}).NOTIFICATION_LEASE_SECONDS).toBe(60)
  })

  it('a boolean that is not one', () => {
    expect(failure({ TRUST_PROXY: 'maybe' })).toContain('TRUST_PROXY="maybe": must be true or false')
  })

  it('PUBLIC_URL that is not http(s)', () => {
    expect(failure({ PUBLIC_URL: 'ftp://example.com' })).toContain('PUBLIC_URL')
  })

  it('BODY_LIMIT_BYTES below its minimum', () => {
    expect(failure({ BODY_LIMIT_BYTES: '10' })).toContain('BODY_LIMIT_BYTES="10": must be a whole number from 1024 to')
  })

  it('ADMIN_EMAIL without ADMIN_PASSWORD, and the other way round', () => {
    expect(failure({ ADMIN_EMAIL: 'admin@example.com' })).toContain(
      'ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither',
    )
    expect(failure({ ADMIN_PASSWORD: 'a long enough password' })).toContain(
      'ADMIN_EMAIL and ADMIN_PASSWORD: set both or neither',
    )
  })

  it('ADMIN_EMAIL that is not an email', () => {
    expect(failure({ ADMIN_EMAIL: 'root', ADMIN_PASSWORD: 'a long enough password' })).toContain(
      'ADMIN_EMAIL="root": must be an email address',
    )
  })

  it('DATABASE_SYNC_URL needs a file: DATABASE_URL', () => {
    expect(failure({ DATABASE_URL: 'libsql://db.turso.io', DATABASE_SYNC_URL: 'libsql://db.turso.io' })).toContain(
      'DATABASE_SYNC_URL',
    )
  })

  it('OUTBOUND_ALLOW: entries are parsed, a bad one is named', () => {
    expect(loadConfig({}).OUTBOUND_ALLOW).toEqual([])
    const allow = loadConfig({ OUTBOUND_ALLOW: '127.0.0.1:11434, ollama.internal,10.0.0.0/8' }).OUTBOUND_ALLOW
    expect(allow.map((e) => e.text)).toEqual(['127.0.0.1:11434', 'ollama.internal', '10.0.0.0/8'])
    const m = failure({ OUTBOUND_ALLOW: 'ollama.internal,10.0.0.1/8' })
    expect(m).toContain('OUTBOUND_ALLOW="ollama.internal,10.0.0.1/8": entry "10.0.0.1/8": host bits are set')
  })

  it('every bad variable is named in the one message', () => {
    const m = failure({ PORT: 'abc', LOG_LEVEL: 'loud', SESSION_TTL_HOURS: '0' })
    expect(m.split('\n').filter((l) => l.startsWith('  '))).toHaveLength(3)
    for (const name of ['PORT', 'LOG_LEVEL', 'SESSION_TTL_HOURS']) expect(m).toContain(`${name}=`)
  })
})

describe('secrets never appear in the message', () => {
  it('SECRET_KEY too short', () => {
    const m = failure({ SECRET_KEY: 'hunter2-short' })
    expect(m).toContain('SECRET_KEY')
    expect(m).toContain('must be at least 32 characters')
    expect(m).not.toContain('hunter2')
  })

  it('ADMIN_PASSWORD too short', () => {
    const m = failure({ ADMIN_EMAIL: 'a@example.com', ADMIN_PASSWORD: 'sw0rdfish' })
    expect(m).toContain('ADMIN_PASSWORD')
    expect(m).toContain('must be at least 12 characters')
    expect(m).not.toContain('sw0rdfish')
  })

  it('credentials inside a bad database URL', () => {
    const m = failure({ DATABASE_URL: 'postgres://admin:hunter2@db.example.com/app?authToken=tok3n' })
    expect(m).toContain('DATABASE_URL')
    expect(m).not.toContain('hunter2')
    expect(m).not.toContain('tok3n')
    const sync = failure({ DATABASE_SYNC_URL: 'mysql://u:s3cret@host/db' })
    expect(sync).toContain('DATABASE_SYNC_URL')
    expect(sync).not.toContain('s3cret')
  })
})
