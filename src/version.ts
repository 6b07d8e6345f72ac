// Replaced at bundle time with package.json's version (build.mjs); "dev" when run from source.
declare const __VFIO_AUTOBIND_VERSION__: string | undefined;

export const VERSION: string = typeof __VFIO_AUTOBIND_VERSION__ === "string" ? __VFIO_AUTOBIND_VERSION__ : "dev";
