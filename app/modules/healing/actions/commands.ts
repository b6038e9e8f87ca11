/**
 * The allow-list of commands `service_restart` may run: a JSON file an admin writes on the server,
 * named by HEALING_COMMANDS_FILE (unset: the action type is off). The API only ever names a
 * command; its argv, timeout and working directory come from this file alone. The format and its
 * parser are shared with BACKUP_COMMANDS_FILE (app/lib/commands-file.ts).
 *
 *   { "commands": { "restart-api": { "argv": ["systemctl", "restart", "api"], "timeoutMs": 30000, "cwd": "/" } } }
 */
import { type AllowedCommand, CommandSchema, commandsFileReader } from '../../../lib/commands-file.ts'

export type { AllowedCommand }

/**
 * The commands of the file at `path` (null when it is unset), read again whenever the file changes;
 * a read throws with a message naming what is wrong. The healing service makes one reader.
 */
export function allowedCommands(path: string | undefined): () => Record<string, AllowedCommand> | null {
  return commandsFileReader(path, 'HEALING_COMMANDS_FILE', CommandSchema)
}
