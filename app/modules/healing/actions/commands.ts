/**
 * The allow-list of commands `service_restart` may run: a JSON file an admin writes on the server,
 * named by HEALING_COMMANDS_FILE (unset: the action type is off). The API only ever names a
 * command; its argv, timeout and working directory come from this file alone.
 *
 *   { "commands": { "restart-api": { "argv": ["systemctl", "restart", "api"], "timeoutMs": 30000, "cwd": "/" } } }
 */
import { readFileSync, statSync } from 'node:fs'
import * as v from 'valibot'

const Command = v.strictObject({
  argv: v.pipe(
    v.array(v.pipe(v.string(), v.maxLength(4096)), 'must be a list of strings'),
    v.minLength(1, 'must name the program'),
    v.maxLength(100),
  ),
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3_600_000)), 60_000),
  cwd: v.optional(v.string()),
  env: v.optional(v.record(v.string(), v.string())),
})
const File = v.strictObject({
  commands: v.record(
    v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,100}$/, 'command names are letters, digits, _ . -')),
    Command,
  ),
})
export type AllowedCommand = v.InferOutput<typeof Command>

/**
 * The commands of the file at `path` (null when it is unset), read again whenever the file changes;
 * a read throws with a message naming what is wrong. The healing service makes one reader.
 */
export function allowedCommands(path: string | undefined): () => Record<string, AllowedCommand> | null {
  let cache: { mtimeMs: number; size: number; commands: Record<string, AllowedCommand> } | undefined
  return () => {
    if (!path) return null
    const st = statSync(path, { throwIfNoEntry: false })
    if (!st) throw new Error(`HEALING_COMMANDS_FILE ${path} does not exist`)
    if (cache && cache.mtimeMs === st.mtimeMs && cache.size === st.size) return cache.commands
    let raw: unknown
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'))
    } catch (error) {
      throw new Error(`HEALING_COMMANDS_FILE ${path} is not valid JSON: ${(error as Error).message}`)
    }
    const r = v.safeParse(File, raw)
    if (!r.success)
      throw new Error(
        `HEALING_COMMANDS_FILE ${path}: ${r.issues.map((i) => `${v.getDotPath(i) ?? '(file)'} ${i.message}`).join('; ')}`,
      )
    cache = { mtimeMs: st.mtimeMs, size: st.size, commands: r.output.commands }
    return r.output.commands
  }
}
