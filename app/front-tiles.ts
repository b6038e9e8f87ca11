/**
 * The front page's tiles, made once by the composition root (app/root.ts) from the services: the page
 * (app/app.ts) frames them, and the front-summaries job (jobs/front-summaries.ts) computes the heavy
 * ones' summaries from the same list. Adding a tile is a line here, never an edit of the page.
 */
import type { Services } from './services.ts'
import type { FrontTile } from './lib/tiles.tsx'
import { alertTiles } from './modules/alerts/index.ts'
import { auditTiles } from './modules/audit/index.ts'
import { backupTiles } from './modules/backups/index.ts'
import { componentTiles } from './modules/components/index.ts'
import { healingTiles } from './modules/healing/index.ts'
import { metricsTiles } from './modules/metrics/index.ts'
import { workflowTiles } from './modules/n8n/index.ts'
import { runsTiles } from './modules/runs/index.ts'

export const frontTiles = (md: Services): FrontTile[] => [
  ...alertTiles(md),
  ...healingTiles(md),
  ...runsTiles(md),
  ...componentTiles(md),
  ...metricsTiles(md),
  ...backupTiles(md),
  ...workflowTiles(md),
  ...auditTiles(md),
]
