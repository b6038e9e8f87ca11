export const logLevels = ['debug', 'info', 'warn', 'error', 'silent'] as const
export type LogLevel = (typeof logLevels)[number]
export type Logger = Record<Exclude<LogLevel, 'silent'>, (msg: string, fields?: Record<string, unknown>) => void> & {
  child: (fields: Record<string, unknown>) => Logger
}

// Field names whose values never reach a log line.
const SECRET_FIELD = /pass(word)?|secret|token|authorization|api[-_]?key|cookie/i

function redact(fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [k, value] of Object.entries(fields)) out[k] = SECRET_FIELD.test(k) ? '[redacted]' : value
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
