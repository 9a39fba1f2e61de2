// Preloaded with `node -r` by the benchmarks: reports the process's peak resident memory on stderr at exit.
process.on("exit", () => require("node:fs").writeSync(2, `\n__maxrss_kb=${process.resourceUsage().maxRSS}\n`));
