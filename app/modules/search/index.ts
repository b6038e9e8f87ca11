// The search module's public face: the global search box's routes and the search itself.
export { searchPages } from './pages.tsx'
export { searchRoutes } from './routes.ts'
export { type Results, search } from './service.ts'
