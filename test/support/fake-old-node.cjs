// Preloaded (node -r) to make the bundle believe it runs on an older Node: process.versions
// is what the bundle's first statement reads. FAKE_NODE_VERSION says which (default 16.20.2,
// RHEL 9's default stream).
Object.defineProperty(process, "versions", {
  value: { ...process.versions, node: process.env.FAKE_NODE_VERSION || "16.20.2" },
});
