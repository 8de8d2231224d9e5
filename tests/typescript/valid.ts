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
