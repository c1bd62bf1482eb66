// moved to catalog/catalog.ts; re-export kept until the pipeline lands
export { buildCatalog, type Catalog, resolveModelRef } from '../catalog/catalog.ts';
