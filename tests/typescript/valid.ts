// A movement as the generated types describe it; it must compile.
import type { components } from "stockroom-api";

type MovementCreate = components["schemas"]["MovementCreate"];

export const receipt: MovementCreate = {
  product_id: "0190a000-0000-7000-8000-000000000001",
  location_id: "0190a000-0000-7000-8000-000000000002",
  kind: "receipt",
  quantity: 12,
  reference: "PO-77",
  note: "dock 2",
};

export const adjustment: MovementCreate = { ...receipt, kind: "adjustment", quantity: -2, reason: "damage" };

// Bodies that leave out fields with a server-side default: valid requests, so the types must
// accept them (openapi-typescript makes a field with a default required unless it is run with
// `--default-non-nullable false`, the README's command).
type ProductCreate = components["schemas"]["ProductCreate"];
type ReservationCreate = components["schemas"]["ReservationCreate"];
type ShipmentLineReceipt = components["schemas"]["ShipmentLineReceipt"];
type UserAdminCreate = components["schemas"]["UserAdminCreate"];

export const product: ProductCreate = { sku: "W-1", name: "Widget" };
export const reservation: ReservationCreate = {
  product_id: receipt.product_id,
  location_id: receipt.location_id,
  quantity: 2,
};
export const arrived: ShipmentLineReceipt = { product_id: receipt.product_id, received: 3 };
export const user: UserAdminCreate = {
  email: "clerk@example.com",
  password: "correct horse battery staple",
  full_name: "A Clerk",
};

// Answers: a member the server always sends is required, so strict code reads it without an
// `undefined` check (a member with a default, such as token_type, included).
type TokenResponse = components["schemas"]["TokenResponse"];
type HealthRead = components["schemas"]["HealthRead"];
type CheckRead = components["schemas"]["CheckRead"];

declare const token: TokenResponse;
declare const health: HealthRead;
declare const check: CheckRead;

export const expiresAt: number = Date.now() + token.expires_in * 1000;
export const authorization: string = `${token.token_type} ${token.access_token}`;
export const scheme: "bearer" = token.token_type;
export const live: "ok" = health.status;
export const checked: "ok" | "down" | "disabled" = check.status;
