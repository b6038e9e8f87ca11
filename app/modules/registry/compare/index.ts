// Comparing two versions of a model from its metrics: the API and the dashboard view.
export { COMPARE_METRICS } from './compare.ts'
export { comparePages } from './pages.tsx'
export { compareRoutes } from './routes.ts'
