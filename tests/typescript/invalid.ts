// What the generated types must refuse: each declaration is one compile error.
import type { components } from "stockroom-api";

type MovementCreate = components["schemas"]["MovementCreate"];

const ids = { product_id: "0190a000-0000-7000-8000-000000000001" };
const at = { ...ids, location_id: "0190a000-0000-7000-8000-000000000002" };

export const noLocation: MovementCreate = { ...ids, kind: "receipt", quantity: 1 };
export const unknownKind: MovementCreate = { ...at, kind: "transfer", quantity: 1 };
export const textQuantity: MovementCreate = { ...at, kind: "receipt", quantity: "1" };
export const extraField: MovementCreate = { ...at, kind: "receipt", quantity: 1, created_by: "me" };
export const unknownReason: MovementCreate = { ...at, kind: "adjustment", quantity: 1, reason: "theft" };

// A field with a default may be left out, but is never null.
type ProductCreate = components["schemas"]["ProductCreate"];
export const nullUnit: ProductCreate = { sku: "W-1", name: "Widget", unit: null };

// Members sent only at times stay optional: reading one without a check is an error.
type TokenResponse = components["schemas"]["TokenResponse"];
type CheckRead = components["schemas"]["CheckRead"];
type StockLevelRead = components["schemas"]["StockLevelRead"];
declare const token: TokenResponse;
declare const check: CheckRead;
declare const level: StockLevelRead;
export const deviceUnchecked: string = token.device_token;
export const latencyUnchecked: number = check.latency_ms;
export const productUnchecked: string = level.product.sku;
