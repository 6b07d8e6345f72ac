export declare const TEST_NODE_VERSIONS: readonly string[];
export declare function testNodeDir(version: string): string;
export declare function testNodeBinary(version: string): string;
