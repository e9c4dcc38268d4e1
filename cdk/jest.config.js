/** @type {import('jest').Config} */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: {
    // Type checking is `tsc --noEmit`'s job (scripts/test.sh runs it first);
    // with isolatedModules (tsconfig.json) ts-jest only transpiles, which keeps jest fast.
    '^.+\\.tsx?$': ['ts-jest', {}],
  },
  // Synthesis is CPU-bound; CI has two cores.
  maxWorkers: 2,
};
