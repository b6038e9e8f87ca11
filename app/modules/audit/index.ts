// The audit module's public face: other modules, the composition root and jobs import only this.
export { auditPages } from './pages.tsx'
export { auditRoutes } from './routes.ts'
export { audit, auditInsert, auditRow, writeAudit } from './service.ts'
export { auditTiles } from './tiles.tsx'
