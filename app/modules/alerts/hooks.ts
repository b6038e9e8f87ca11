/**
 * The one list of lifecycle hooks every alert state change runs (rules, the API, receivers, people):
 * each returns statements written in the same atomic batch as the change. Order matters: hooks
 * that decide flags on the alert (silences: `t.after.silenced`) come before the notification
 * outbox, which reads them. Add a hook with one line here.
 */
import { outboxHook } from '../notify/outbox.ts'
import type { TransitionHook } from './lifecycle.ts'
import { silenceHook } from './silences.ts'

export function transitionHooks(): TransitionHook[] {
  return [
    // silences: sets t.after.silenced and writes silenced/unsilenced events
    silenceHook,
    // notification outbox: last, it reads the flags the hooks above set
    outboxHook,
  ]
}
