import * as v from 'valibot'
import { frontRanges } from '../../lib/tiles.tsx'

const rangeNames = Object.keys(frontRanges) as (keyof typeof frontRanges)[]

/** The page's one knob: its time range (1h, 24h, 7d); 24h when absent. */
export const FrontQuery = v.object({
  range: v.optional(v.picklist(rangeNames, `must be one of ${rangeNames.join(', ')}`)),
})

export const TileParam = v.object({
  id: v.pipe(v.string(), v.regex(/^[a-z0-9-]{1,40}$/, 'must be a tile id (a-z, 0-9, -)')),
})

/** The documentation pages the dashboard links to (docs/<page>.md), by name. */
export const helpPages = [
  'alerts',
  'alertmanager',
  'api',
  'backups',
  'components',
  'configuration',
  'dashboard',
  'front-page',
  'healing',
  'metrics',
  'n8n',
  'n8n-nodes',
  'opentelemetry',
  'operations',
  'receivers',
  'registry',
  'runs',
  'security',
] as const
export const HelpParam = v.object({ page: v.picklist(helpPages, 'must be a documentation page name') })
