/**
 * Allow-lists of commands an admin writes on the server (HEALING_COMMANDS_FILE, BACKUP_COMMANDS_FILE):
 * a JSON file `{ "commands": { "<name>": { "argv": [...], "timeoutMs": 30000, "cwd": "/", "env": {} } } }`.
 * The API only ever names a command; argv, timeout, working directory and environment come from the
 * file alone, and a command runs without a shell. One parser for both files, so they keep one format.
 */
import { readFileSync, statSync } from 'node:fs'
import * as v from 'valibot'

/** The fields every allow-listed command has; a file's entries may add their own (see `commandsFileReader`). */
export const commandEntries = {
  argv: v.pipe(
    v.array(v.pipe(v.string(), v.maxLength(4096)), 'must be a list of strings'),
    v.minLength(1, 'must name the program'),
    v.maxLength(100),
  ),
  timeoutMs: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(3_600_000)), 60_000),
  cwd: v.optional(v.string()),
  env: v.optional(v.record(v.string(), v.string())),
}

export const CommandSchema = v.strictObject(commandEntries)
export type AllowedCommand = v.InferOutput<typeof CommandSchema>

const NAME = v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,100}$/, 'command names are letters, digits, _ . -'))

/**
 * A reader of the file at `path` (it answers null when `path` is unset), parsed with `entry` for each
 * command and read again whenever the file changes; a read throws with a message naming the setting
 * (`variable`), the file and what is wrong. Each service makes one reader.
 */
export function commandsFileReader<TEntry extends v.GenericSchema>(
  path: string | undefined,
  variable: string,
  entry: TEntry,
): () => Record<string, v.InferOutput<TEntry>> | null {
  const File = v.strictObject({ commands: v.record(NAME, entry) })
  let cache: { mtimeMs: number; size: number; commands: Record<string, v.InferOutput<TEntry>> } | undefined
  return () => {
    if (!path) return null
    const st = statSync(path, { throwIfNoEntry: false })
    if (!st) throw new Error(`${variable} ${path} does not exist`)
    if (cache && cache.mtimeMs === st.mtimeMs && cache.size === st.size) return cache.commands
    let raw: unknown
    try {
      raw = JSON.parse(readFileSync(path, 'utf8'))
    } catch (error) {
      throw new Error(`${variable} ${path} is not valid JSON: ${(error as Error).message}`)
    }
    const r = v.safeParse(File, raw)
    if (!r.success)
      throw new Error(
        `${variable} ${path}: ${r.issues.map((i) => `${v.getDotPath(i) ?? '(file)'} ${i.message}`).join('; ')}`,
      )
    const commands = r.output.commands as Record<string, v.InferOutput<TEntry>>
    cache = { mtimeMs: st.mtimeMs, size: st.size, commands }
    return commands
  }
}
