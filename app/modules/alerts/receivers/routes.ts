/**
 * Receivers for monitoring tools (access `ingest`: an ingest-scoped key or operator+). The key
 * comes in `Authorization: Bearer …`, or as `?key=…` for tools that cannot set headers (see
 * app/middleware/auth.ts). Every alert of a delivery is validated before anything is written; a
 * duplicate delivery is a repeat (firing) or nothing (resolved), never a second alert.
 */
import { Hono, type Context } from 'hono'
import { actor, type AppEnv, type ModuleDeps } from '../../../context.ts'
import { describe } from '../../../lib/route-meta.ts'
import { validate } from '../../../lib/validate.ts'
import { access, claimSource } from '../../../middleware/access.ts'
import { auditRow } from '../../audit/index.ts'
import type { AlertReport } from '../lifecycle/lifecycle.ts'
import type { AlertsService } from '../service.ts'
import { AlertmanagerWebhook, alertmanagerReports } from './alertmanager.ts'
import { applyReports, auditSummary } from './common.ts'
import { GrafanaWebhook, grafanaReports } from './grafana.ts'
import { isPostableAlerts, PostableAlerts, prometheusReports } from './prometheus.ts'
import { UptimeKumaQuery, UptimeKumaWebhook, uptimeKumaReport } from './uptime-kuma.ts'
import { clockOf } from '../../../lib/time.ts'

export function receiverRoutes(deps: ModuleDeps & { alerts: AlertsService }) {
  // The same alerts service (and so the same hooks: silences, outbox) as rules and the generic API.
  const { alerts } = deps
  const fingerprint = alerts.labelsFingerprint
  const now = clockOf(deps)
  const app = new Hono<AppEnv>()
  const tags = ['alerts', 'receivers']

  async function receive(c: Context<AppEnv>, tool: string, reports: AlertReport[], at: number, ignored = 0) {
    claimSource(c, tool) // a key bound to another source may not report through this receiver
    // The audit row commits with the alerts it records.
    return applyReports(alerts.reportMany, reports, at, ignored, (summary) => {
      const line = auditSummary(summary)
      return line ? [auditRow(c, { action: 'alert.received', target: tool, summary: line })] : []
    })
  }

  app.post(
    '/api/v1/hooks/alertmanager',
    access('ingest'),
    describe('Alertmanager webhook (payload version 4): each alert by its fingerprint, firing or resolved', tags),
    validate('json', AlertmanagerWebhook),
    async (c) => {
      const at = now()
      return c.json(
        await receive(c, 'alertmanager', alertmanagerReports(c.req.valid('json'), actor(c), fingerprint), at),
      )
    },
  )

  app.post(
    '/api/v1/hooks/grafana',
    access('ingest'),
    describe('Grafana alerting webhook contact point: each alert by its fingerprint, firing or resolved', tags),
    validate('json', GrafanaWebhook),
    async (c) => {
      const at = now()
      return c.json(await receive(c, 'grafana', grafanaReports(c.req.valid('json'), actor(c), fingerprint), at))
    },
  )

  app.post(
    '/api/v1/hooks/uptime-kuma',
    access('ingest'),
    describe(
      'Uptime Kuma webhook: down → firing, up → resolved, pending → pending, maintenance and test messages ignored; ?severity= (default critical)',
      tags,
    ),
    validate('query', UptimeKumaQuery),
    validate('json', UptimeKumaWebhook),
    async (c) => {
      const at = now()
      const report = uptimeKumaReport(c.req.valid('json'), actor(c), c.req.valid('query').severity)
      return c.json(await receive(c, 'uptime_kuma', report ? [report] : [], at, report ? 0 : 1))
    },
  )

  // Alertmanager answers an accepted batch with 200 and an empty body; Prometheus reads nothing more.
  // The reads of Alertmanager's API v2 (GET here, silences, status) are the alertmanager module's.
  app.post(
    '/api/v2/alerts',
    access('ingest'),
    describe(
      'Alertmanager API v2 intake for Prometheus (alerting.alertmanagers): endsAt ≤ now → resolved, else firing',
      tags,
    ),
    validate('json', PostableAlerts, { fast: isPostableAlerts }),
    async (c) => {
      const at = now()
      await receive(c, 'prometheus', prometheusReports(c.req.valid('json'), actor(c), at, fingerprint), at)
      return c.body(null, 200)
    },
  )

  return app
}
