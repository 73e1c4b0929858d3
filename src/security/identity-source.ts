import type { PemMaterial } from './pem-files.js';
/** The proxy's own certificate (self-issued and renewed, see self-identity.ts): current material and its replacements. */
export interface IdentitySource {
  readonly current: PemMaterial;
  /** Called with each renewed certificate; returns a function that unsubscribes. */
  subscribe(fn: (m: PemMaterial) => void): () => void;
}
