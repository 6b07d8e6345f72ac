/**
 * Files placed in the guest before it boots, by absolute guest path: the extension point
 * for the udev scenarios, whose claims (/etc/vfio-autobind/...) and generated
 * /etc/udev/rules.d/69-vfio-autobind-claims.rules must be in place when udev's coldplug
 * runs. Empty until claims exist; nothing here may be needed by the scenarios of today.
 */
export const bootFiles: Readonly<Record<string, string>> = {};
