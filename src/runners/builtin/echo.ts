import type { Runner } from "../types.js";

/** The built-in echo runtime: returns its input unchanged. For trying toolctl out and for tests. */
export const echoRunner: Runner = {
  prepare(context) {
    return {
      description: { runtime: "echo", returns: "the input, unchanged" },
      run: async () => {
        return { outcome: "succeeded", output: context.input, details: {} };
      },
    };
  },
};
