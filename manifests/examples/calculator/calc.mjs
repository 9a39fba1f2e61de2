// Reads {"operation","a","b"} as JSON on stdin and prints {"result": n} on stdout.
let text = "";
for await (const chunk of process.stdin) text += chunk;
const { operation, a, b } = JSON.parse(text);
const operations = { add: a + b, subtract: a - b, multiply: a * b, divide: b === 0 ? undefined : a / b };
if (operations[operation] === undefined) {
  process.stderr.write(b === 0 ? "division by zero\n" : `unknown operation ${operation}\n`);
  process.exit(1);
}
process.stdout.write(`${JSON.stringify({ result: operations[operation] })}\n`);
