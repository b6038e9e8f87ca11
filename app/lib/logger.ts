export const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]
export type Logger = Record<Exclude<LogLevel, 'silent'>, (msg: string, fields?: Record<string, unknown>) => void> & {
  child: (fields: Record<string, unknown>) => Logger
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

function redact(fields: Record<string, unknown>, depth = 0): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, value] of Object.entries(fields)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : redactValue(value, depth)
  return out
}

/** Structured JSON lines on stdout (stderr for warn and error). */
export function createLogger(level: LogLevel, base: Record<string, unknown> = {}, write = defaultWrite): Logger {
  const min = logLevels.indexOf(level)
  const emit = (lvl: Exclude<LogLevel, 'silent'>) => (msg: string, fields: Record<string, unknown> = {}) => {
    if (logLevels.indexOf(lvl) < min) return
    write(lvl, JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...redact({ ...base, ...fields }) }))
  }
  return {
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
