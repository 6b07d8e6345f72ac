// The udev helper bundle's entry (dist/udev-helper.js), which the packaged rule runs for each
// add event of a claimed device: the add event, on the real kernel.
import { REAL_ADAPTERS } from "../binder/kernelIo.js";
import { startUdevHelper } from "./startUdevHelper.js";

startUdevHelper(REAL_ADAPTERS);
