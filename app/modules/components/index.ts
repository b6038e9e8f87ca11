// The components module's public face: other modules, the composition root and jobs import only this.
export { failureReason, inPool, type OutcomeListener, runComponentChecks } from './checks.ts'
export { componentPages, OverviewPanel } from './pages.tsx'
export { createPrices, type Prices } from './prices.ts'
export { componentsRoutes } from './routes.ts'
export { HttpUrl } from './schema.ts'
export { rebindPushTokens } from './rebind.ts'
export { dailyUptimes } from './uptime.ts'
export type { StateChangeListener } from './service.ts'
