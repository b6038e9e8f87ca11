export const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]
export type Logger = Record<Exclude<LogLevel, 'silent'>, (msg: string, fields?: Record<string, unknown>) => void> & {
  child: (fields: Record<string, unknown>) => Logger
  /** Whether a line at this level is written (to skip building fields that would be dropped). */
  enabled: (level: Exclude<LogLevel, 'silent'>) => boolean
}

// Field names whose values never reach a log line.
const SECRET_FIELD = /pass(word)?|secret|token|authorization|api[-_]?key|cookie/i

// Nested plain objects and arrays are redacted too (a logged request's headers, a channel list).
function redactValue(value: unknown, depth: number): unknown {
  if (depth > 5 || value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return value.map((v) => redactValue(v, depth + 1))
  const proto = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null ? redact(value as Record<string, unknown>, depth + 1) : value
}

// Field names repeat (every request line has the same ones): remember which are secret.
const secretNames = new Map<string, boolean>()
const isSecret = (name: string) => {
  let secret = secretNames.get(name)
  if (secret === undefined) {
    secret = SECRET_FIELD.test(name)
    if (secretNames.size < 10_000) secretNames.set(name, secret)
  }
  return secret
}

function redact(
  fields: Record<string, unknown>,
  depth = 0,
  out: Record<string, unknown> = {},
): Record<string, unknown> {
  for (const k in fields) {
    if (!Object.hasOwn(fields, k)) continue
    const value = fields[k]
    out[k] = isSecret(k) ? '[redacted]' : redactValue(value, depth)
  }
  return out
}

/** Structured JSON lines on stdout (stderr for warn and error). */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, write = defaultWrite): Logger {
  const min = logLevels.indexOf(level)
  const hasBase = Object.keys(base).length > 0
  const emit = (lvl: Exclude<LogLevel, 'silent'>) => {
    if (logLevels.indexOf(lvl) < min) return () => {}
    return (msg: string, fields: Record<string, unknown> = {}) => {
      const entry: Record<string, unknown> = { time: new Date().toISOString(), level: lvl, msg }
      if (hasBase) redact(base, 0, entry)
      write(lvl, JSON.stringify(redact(fields, 0, entry)))
    }
  }
  return {
    enabled: (lvl) => logLevels.indexOf(lvl) >= min,
    debug: emit('debug'),
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (fields) => createLogger(level, { ...base, ...fields }, write),
  }
}

function defaultWrite(level: string, line: string) {
  if (level === 'warn' || level === 'error') console.error(line)
  else console.log(line)
}
