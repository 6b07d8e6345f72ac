/** A [Claim] section as the parser gives it when it names selectors only: every option at its default. */
import type { Claim, Origin, Selectors } from "../../src/config/claimConfig.js";

export const plainClaim = (origin: Origin, selectors: Selectors): Claim => ({
  origin,
  selectors,
  driver: "auto",
  group: "check",
  move: "auto",
  force: false,
  owner: null,
  mode: null,
  ownershipLine: 0,
});
