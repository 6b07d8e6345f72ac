export declare const TEST_BUSYBOX: string;
