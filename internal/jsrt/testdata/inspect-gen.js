// Writes inspect.json: each case of inspect-cases.js with what Node's
// console.log prints for it (util.format), for TestInspectLikeNode.
// Run: node inspect-gen.js > inspect.json (Node 20 and 22 agree).
const util = require("util");
const cases = require("./inspect-cases.js");
process.stdout.write(JSON.stringify(cases.map((src) => [src, util.format(...eval(src))]), null, 1) + "\n");
