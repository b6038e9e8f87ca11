/**
 * Alertmanager's receivers, made from Homeostat's notification routing: each channel is a receiver
 * of its name, and an alert's receivers are the channels its policies (or the default route: every
 * enabled channel) send it to. An alert no channel receives has the receiver `homeostat` (the
 * dashboard), so every alert names at least one, as in Alertmanager.
 */
import type { Db } from '../../../db/client.ts'
import { listChannels, routesFrom, type Routing } from '../notify/index.ts'

export const DASHBOARD_RECEIVER = 'homeostat'

export type AlertRoute = { policyId: string | null; groupBy: string[]; receivers: string[] }

export function createReceivers(deps: { db: Db; routing: () => Promise<Routing> }) {
  async function channelNames() {
    return new Map((await listChannels(deps.db)).map((ch) => [ch.id, ch.name]))
  }

  /** A function from an alert's labels to its routes, each with its receivers' names. */
  async function forAlerts(): Promise<(labels: Record<string, string>) => AlertRoute[]> {
    const [routing, names] = await Promise.all([deps.routing(), channelNames()])
    return (labels) =>
      routesFrom(routing, labels).map((r) => {
        const receivers = r.channelIds.map((id) => names.get(id)).filter((n): n is string => n !== undefined)
        return {
          policyId: r.policyId,
          groupBy: r.groupBy,
          receivers: receivers.length ? receivers : [DASHBOARD_RECEIVER],
        }
      })
  }

  async function names() {
    return [DASHBOARD_RECEIVER, ...(await channelNames()).values()]
  }

  /**
   * The routing as an Alertmanager configuration (what `/api/v2/status` shows as config.original):
   * the policies as child routes, the channels as receivers, no settings and no secrets.
   */
  async function configYaml() {
    const [routing, byId] = await Promise.all([deps.routing(), channelNames()])
    const q = (s: string) => JSON.stringify(s)
    const lines = ['route:', `  receiver: ${q(DASHBOARD_RECEIVER)}`]
    if (routing.policies.length) lines.push('  routes:')
    for (const p of routing.policies) {
      const receivers = p.channelIds.map((id) => byId.get(id)).filter((n): n is string => n !== undefined)
      lines.push(`    - receiver: ${q(receivers[0] ?? DASHBOARD_RECEIVER)}`)
      lines.push(`      matchers: [${p.matchers.map((m) => q(`${m.label}${m.op}${q(m.value)}`)).join(', ')}]`)
      if (p.groupBy.length) lines.push(`      group_by: [${p.groupBy.map(q).join(', ')}]`)
      lines.push(`      continue: ${p.continue || receivers.length > 1}`)
    }
    lines.push('receivers:', `  - name: ${q(DASHBOARD_RECEIVER)}`)
    for (const name of byId.values()) lines.push(`  - name: ${q(name)}`)
    return `${lines.join('\n')}\n`
  }

  return { forAlerts, names, configYaml }
}
