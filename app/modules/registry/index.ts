// The registry module's public face (models, prompts, comparing versions): others import only this.
export { comparePages, compareRoutes } from './compare/index.ts'
