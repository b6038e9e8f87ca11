import { spawn } from 'node:child_process'
import * as v from 'valibot'
import type { AllowedCommand } from './commands.ts'
import { ActionError } from '../types.ts'
import { clip, defineAction } from './define.ts'

const MAX_OUTPUT = 16_384

/** Runs argv without a shell; kills it (SIGTERM, then SIGKILL) at the timeout; keeps the ends of stdout and stderr. */
export function runCommand(cmd: AllowedCommand): Promise<{
  code: number | null
  signal: string | null
  timedOut: boolean
  stdout: string
  stderr: string
  ms: number
}> {
  const started = Date.now()
  return new Promise((resolve, reject) => {
    const [file, ...args] = cmd.argv
    const child = spawn(file!, args, {
      shell: false,
      cwd: cmd.cwd || undefined,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...(cmd.env ?? {}) },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    let timedOut = false
    child.stdout.on('data', (b: Buffer) => void (stdout.length < MAX_OUTPUT * 2 && (stdout += b.toString('utf8'))))
    child.stderr.on('data', (b: Buffer) => void (stderr.length < MAX_OUTPUT * 2 && (stderr += b.toString('utf8'))))
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGTERM')
      setTimeout(() => child.kill('SIGKILL'), 2000).unref?.()
    }, cmd.timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      reject(new ActionError(`could not start ${file}: ${error.message}`, false))
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve({
        code,
        signal,
        timedOut,
        stdout: clip(stdout, MAX_OUTPUT),
        stderr: clip(stderr, MAX_OUTPUT),
        ms: Date.now() - started,
      })
    })
  })
}

/**
 * Runs a command an admin listed in HEALING_COMMANDS_FILE, by name. Off when the variable is unset.
 * The API can only name the command: params are empty.
 */
export const serviceRestart = defineAction<Record<string, never>>({
  type: 'service_restart',
  describe: 'Run a command listed by an admin in HEALING_COMMANDS_FILE (by name; no shell; timeout; output captured)',
  targetIs: 'the name of a command in HEALING_COMMANDS_FILE',
  paramsSchema: v.strictObject({}) as unknown as v.GenericSchema<unknown, Record<string, never>>,
  async check(deps, target) {
    let commands: ReturnType<typeof deps.commands>
    try {
      commands = deps.commands()
    } catch (error) {
      return { field: 'target', message: `cannot be checked: ${(error as Error).message}` }
    }
    if (!commands) return { field: 'actionType', message: 'service_restart is off (HEALING_COMMANDS_FILE is not set)' }
    return Object.hasOwn(commands, target)
      ? undefined
      : {
          field: 'target',
          message: `${target} is not a command in the allow-list (HEALING_COMMANDS_FILE); allowed: ${Object.keys(commands).join(', ') || '(none)'}`,
        }
  },
  canHandle: () => true,
  async execute({ deps, target }) {
    const commands = deps.commands()
    const cmd = commands && Object.hasOwn(commands, target) ? commands[target] : undefined
    if (!cmd) throw new ActionError(`${target} is not a command in the allow-list`, false)
    const r = await runCommand(cmd)
    const output = {
      command: target,
      exitCode: r.code,
      signal: r.signal,
      timedOut: r.timedOut,
      ms: r.ms,
      stdout: r.stdout,
      stderr: r.stderr,
    }
    if (r.timedOut) throw new ActionError(`${target} timed out after ${cmd.timeoutMs} ms and was killed`, true, output)
    if (r.code !== 0) throw new ActionError(`${target} exited with ${r.code ?? r.signal}`, true, output)
    return output
  },
})
