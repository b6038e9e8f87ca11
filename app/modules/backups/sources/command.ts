/**
 * Backups of anything a command can stream: `pg_dump`, `mongodump --archive`, `sqlite3 … .dump`,
 * `tar -cf - …`. Only commands an admin listed in BACKUP_COMMANDS_FILE run, by name, with the same
 * rules as the healing commands (app/lib/commands-file.ts): argv only, no shell, a timeout. The
 * command's stdout is the backup, streamed (back-pressure pauses the command, nothing is held
 * whole); its stderr is kept, cut, for the error. A command may name a `restore` command that reads
 * a backup on its stdin (`psql`, `mongorestore --archive`, `sqlite3 <file>`, `tar -xf -`).
 *
 *   { "commands": { "app-db": { "argv": ["pg_dump", "-Fc", "app"], "timeoutMs": 600000,
 *                               "restore": { "argv": ["pg_restore", "-d", "app", "--clean"] } } } }
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as v from 'valibot'
import { type AllowedCommand, commandEntries, commandsFileReader } from '../../../lib/commands-file.ts'
import type { BackupSource } from './types.ts'

export const BackupCommandSchema = v.strictObject({
  ...commandEntries,
  /** Reads a backup made by the command on its stdin and puts it back. Absent: restore happens by hand. */
  restore: v.optional(v.strictObject(commandEntries)),
})
export type BackupCommand = v.InferOutput<typeof BackupCommandSchema>
/** Reads BACKUP_COMMANDS_FILE (null when unset); built once by the composition root. */
export type BackupCommands = () => Record<string, BackupCommand> | null

/** The reader of BACKUP_COMMANDS_FILE: re-read when the file changes, throws naming what is wrong. */
export function backupCommands(path: string | undefined): BackupCommands {
  return commandsFileReader(path, 'BACKUP_COMMANDS_FILE', BackupCommandSchema)
}

/** A target's configuration for kind `command`: the name of a command in BACKUP_COMMANDS_FILE, never argv. */
export const CommandTargetConfig = v.strictObject({
  command: v.pipe(v.string(), v.regex(/^[A-Za-z0-9_.-]{1,100}$/, 'must be a command name from BACKUP_COMMANDS_FILE')),
})
export type CommandTargetConfig = v.InferOutput<typeof CommandTargetConfig>

/** Bytes of stderr kept for an error message: its end, where commands say what went wrong. */
const STDERR_KEPT = 4096
/** After SIGTERM, how long a command gets to stop before SIGKILL. */
const KILL_GRACE_MS = 2000

/**
 * Why a command target cannot run, as `{ field, message }` for a 400 naming the field (the targets
 * API checks with it before saving), or undefined when it can.
 */
export function checkCommandTarget(
  commands: BackupCommands,
  config: CommandTargetConfig,
): { field: string; message: string } | undefined {
  let listed: Record<string, BackupCommand> | null
  try {
    listed = commands()
  } catch (error) {
    return { field: 'config.command', message: `cannot be checked: ${(error as Error).message}` }
  }
  if (!listed) return { field: 'kind', message: 'command targets are off (BACKUP_COMMANDS_FILE is not set)' }
  if (Object.hasOwn(listed, config.command)) return undefined
  return {
    field: 'config.command',
    message: `${config.command} is not a command in BACKUP_COMMANDS_FILE; allowed: ${Object.keys(listed).join(', ') || '(none)'}`,
  }
}

function lookup(commands: BackupCommands, name: string): BackupCommand {
  const listed = commands()
  if (!listed) throw new Error('command targets are off (BACKUP_COMMANDS_FILE is not set)')
  const cmd = Object.hasOwn(listed, name) ? listed[name] : undefined
  if (!cmd) throw new Error(`${name} is not a command in BACKUP_COMMANDS_FILE`)
  return cmd
}

/** Why a backup of the command `name` cannot be restored by Homeostat, or undefined when it can. */
export function lookupRestore(commands: BackupCommands, name: string): string | undefined {
  try {
    if (!lookup(commands, name).restore)
      return `${name} has no restore command in BACKUP_COMMANDS_FILE; restore it by hand`
  } catch (error) {
    return (error as Error).message
  }
  return undefined
}

type Outcome = { code: number | null; signal: string | null; timedOut: boolean; cancelled: boolean; stderr: string }

/**
 * Starts `cmd` without a shell and watches it: the timeout and the caller's signal stop it (SIGTERM,
 * then SIGKILL), stderr's end is kept. `stop()` ends it early (the reader went away).
 */
function start(cmd: AllowedCommand, stdin: 'ignore' | 'pipe', signal: AbortSignal) {
  const [file, ...args] = cmd.argv
  const child: ChildProcess = spawn(file!, args, {
    shell: false,
    cwd: cmd.cwd || undefined,
    // Only PATH and what the file sets: the server's own secrets (SECRET_KEY, tokens) stay out of the command.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(cmd.env ?? {}) },
    stdio: [stdin, 'pipe', 'pipe'],
  })
  let stderr = ''
  let timedOut = false
  let cancelled = false
  child.stderr!.setEncoding('utf8').on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_KEPT)
  })
  const kill = () => {
    if (child.exitCode !== null || child.signalCode !== null) return
    child.kill('SIGTERM')
    setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref?.()
  }
  const timer = setTimeout(() => {
    timedOut = true
    kill()
  }, cmd.timeoutMs)
  const onAbort = () => {
    cancelled = true
    kill()
  }
  if (signal.aborted) onAbort()
  else signal.addEventListener('abort', onAbort, { once: true })
  const outcome = new Promise<Outcome>((resolve, reject) => {
    child.once('error', (error) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      reject(new Error(`could not start ${file}: ${error.message}`))
    })
    child.once('close', (code, sig) => {
      clearTimeout(timer)
      signal.removeEventListener('abort', onAbort)
      resolve({ code, signal: sig, timedOut, cancelled, stderr: stderr.trim() })
    })
  })
  // Awaited by the caller in every path; this keeps an early `error` from being an unhandled rejection.
  outcome.catch(() => {})
  return { child, outcome, stop: kill }
}

/** Null when the command succeeded, else the error that says how it failed (with stderr's end). */
function failure(name: string, cmd: AllowedCommand, r: Outcome): Error | null {
  const said = r.stderr ? `: ${r.stderr}` : ''
  if (r.cancelled) return new Error(`${name} was cancelled`)
  if (r.timedOut) return new Error(`${name} timed out after ${cmd.timeoutMs} ms and was killed${said}`)
  if (r.code !== 0) return new Error(`${name} exited with ${r.code ?? r.signal}${said}`)
  return null
}

/**
 * A backup source running the command `config.command` of BACKUP_COMMANDS_FILE. The file is read at
 * each run, so a command removed from it stops running without a restart.
 */
export function commandSource(commands: BackupCommands, config: CommandTargetConfig): BackupSource {
  const name = config.command
  return {
    kind: 'command',
    async *produce(signal) {
      const cmd = lookup(commands, name)
      const run = start(cmd, 'ignore', signal)
      try {
        // Read on demand: when the destination is slower than the command, the pipe fills and the command waits.
        for await (const chunk of run.child.stdout!) yield chunk as Uint8Array
        const error = failure(name, cmd, await run.outcome)
        if (error) throw error
      } finally {
        // The consumer stopped early or failed: the command must not run on unread.
        run.stop()
      }
    },
    async restore(body, signal) {
      const cmd = lookup(commands, name).restore
      if (!cmd) throw new Error(`${name} has no restore command in BACKUP_COMMANDS_FILE; restore it by hand`)
      const restoreName = `${name} (restore)`
      const run = start(cmd, 'pipe', signal)
      run.child.stdout!.resume()
      const fed = pipeline(Readable.from(body, { objectMode: false }), run.child.stdin!).then(
        () => null,
        (error: Error & { code?: string }) => {
          // The backup could not be read to its end (or the command stopped reading): a half-fed
          // restore must not finish as if it were whole.
          run.stop()
          return error
        },
      )
      const [fedError, outcome] = await Promise.all([fed, run.outcome])
      if (!fedError || outcome.cancelled || outcome.timedOut) {
        const error = failure(restoreName, cmd, outcome)
        if (error) throw error
        return
      }
      const said = outcome.stderr ? `: ${outcome.stderr}` : ''
      throw new Error(
        `${restoreName} stopped before the whole backup was put back (${fedError.code ?? fedError.message}; ` +
          `exit ${outcome.code ?? outcome.signal})${said}`,
      )
    },
  }
}
