// The CLI bundle's entry (dist/vfio-autobind.js, /usr/sbin/vfio-autobind): every command, on the real kernel.
import { REAL_ADAPTERS } from "../binder/kernelIo.js";
import { startCli } from "./startCli.js";

startCli(REAL_ADAPTERS);
